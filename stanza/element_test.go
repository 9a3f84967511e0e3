package stanza

import (
	"encoding/xml"
	"testing"
)

func TestElementHelpers(t *testing.T) {
	msg := func() *Element {
		return New(NSClient, "message", "to", "a@b", "type", "chat").Append(
			CharData("x"),
			New(NSClient, "body").AppendText("hello ").AppendText("world"),
			New("urn:a", "body"),
			CharData("y"),
		)
	}
	tests := []struct {
		name string
		got  func() string
		want string
	}{
		{"Get present", func() string { return msg().Get("to") }, "a@b"},
		{"Get absent", func() string { return msg().Get("from") }, ""},
		{"Get ignores namespaced", func() string {
			e := &Element{Attr: []xml.Attr{{Name: xml.Name{Space: "urn:x", Local: "to"}, Value: "n"}}}
			return e.Get("to")
		}, ""},
		{"Lang", func() string {
			e := msg()
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Space: NSXML, Local: "lang"}, Value: "de"})
			return e.Lang()
		}, "de"},
		{"Set replaces", func() string { return dump(msg().Set("to", "c@d")) }, `{jabber:client}message[to="c@d" type="chat"]("x" {jabber:client}body("hello " "world") {urn:a}body "y")`},
		{"Set adds", func() string { return msg().Set("id", "1").Get("id") }, "1"},
		{"Set empty removes", func() string { return dump(New("", "a", "to", "x", "id", "1").Set("to", "")) }, `{}a[id="1"]`},
		{"Child any namespace", func() string { return msg().Child("", "body").Name.Space }, NSClient},
		{"Child by namespace", func() string { return msg().Child("urn:a", "body").Name.Space }, "urn:a"},
		{"Child absent", func() string { return dump(msg().Child("urn:b", "body")) }, "<nil>"},
		{"Elements", func() string {
			var s string
			for _, e := range msg().Elements() {
				s += e.Name.Space + " "
			}
			return s
		}, "jabber:client urn:a "},
		{"FirstElement", func() string { return msg().FirstElement().Name.Local }, "body"},
		{"FirstElement none", func() string { return dump(New("", "a").AppendText("t").FirstElement()) }, "<nil>"},
		{"Text", func() string { return msg().Text() }, "xy"},
		{"Text of one node", func() string { return New("", "a").AppendText("t").Text() }, "t"},
		{"ChildText", func() string { return msg().ChildText(NSClient, "body") }, "hello world"},
		{"ChildText absent", func() string { return msg().ChildText(NSClient, "subject") }, ""},
		{"Append skips nil", func() string { return dump(New("", "a").Append(nil, (*Element)(nil))) }, `{}a`},
		{"New odd attrs", func() string { return dump(New("", "a", "x", "1", "y")) }, `{}a[x="1"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCopy(t *testing.T) {
	orig := New("", "a", "x", "1").Append(New("", "b", "y", "2"))
	c := orig.Copy()
	c.Set("x", "changed")
	c.Append(New("", "c"))
	c.FirstElement().Set("y", "shared")
	if got, want := dump(orig), `{}a[x="1"]({}b[y="shared"])`; got != want {
		t.Errorf("Copy: original is %s, want %s", got, want)
	}
	d := orig.DeepCopy()
	d.FirstElement().Set("y", "deep")
	d.Set("x", "deep")
	if got, want := dump(orig), `{}a[x="1"]({}b[y="shared"])`; got != want {
		t.Errorf("DeepCopy: original is %s, want %s", got, want)
	}
	if got, want := dump(d), `{}a[x="deep"]({}b[y="deep"])`; got != want {
		t.Errorf("DeepCopy: copy is %s, want %s", got, want)
	}
}
