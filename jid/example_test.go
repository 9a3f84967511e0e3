package jid_test

import (
	"fmt"

	"hearth/jid"
)

func ExampleParse() {
	j, err := jid.Parse("Juliet@Example.COM./Balcony")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(j)
	fmt.Println(j.Local(), j.Domain(), j.Resource())
	fmt.Println(j.Bare(), j.DomainJID())
	// Output:
	// juliet@example.com/Balcony
	// juliet example.com Balcony
	// juliet@example.com example.com
}

func ExampleParse_unicode() {
	j := jid.MustParse("ΣΊΣΥΦΟΣ@xn--bcher-kva.example/♚")
	fmt.Println(j)
	// Output: σίσυφοσ@bücher.example/♚
}
