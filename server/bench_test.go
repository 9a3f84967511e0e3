package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

// BenchmarkLocalChat measures one chat message through the whole server:
// TLS read, parse, route to a local full JID, encode, TLS write, with the
// sending and receiving clients in the same process.
func BenchmarkLocalChat(b *testing.B) {
	srv := xmpptest.NewServer(b, "[limits]\nbytes_per_second = 0") // measure the server, not its shaper
	srv.AddUser(b, "alice", "pw-alice-1")
	srv.AddUser(b, "bob", "pw-bob-123")
	alice := srv.LoginAvailable(b, "alice", "pw-alice-1", "laptop")
	bob := srv.LoginAvailable(b, "bob", "pw-bob-123", "phone")
	msg := "<message to='bob@localhost/phone' type='chat' id='x'><body>Hello Bob, this is a typical chat message of moderate length.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
	// Send in batches so the benchmark measures throughput, not round trips.
	const batch = 50
	payload := strings.Repeat(msg, batch)
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan int)
	go func() {
		n := 0
		for n < b.N {
			if el := bob.Next(); el.Name.Local == "message" {
				n++
			}
		}
		done <- n
	}()
	for sent := 0; sent < b.N; sent += batch {
		if b.N-sent < batch {
			alice.Send(strings.Repeat(msg, b.N-sent))
		} else {
			alice.Send(payload)
		}
	}
	<-done
}

// BenchmarkMUCBroadcast measures one groupchat message fanned out to every
// occupant of a room (10, 100, 1000), over real TLS sessions in the same
// process: the room's work, one encoding per occupant's namespace and the
// writes. ns/op is per message, i.e. per fan-out to all occupants.
func BenchmarkMUCBroadcast(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("occupants=%d", n), func(b *testing.B) {
			srv := xmpptest.NewServer(b, "[limits]\nbytes_per_second = 0\n[muc]\nmax_occupants = 2000\nmax_occupants_limit = 2000\n[mam]\ndefault = \"never\"")
			const room = "bench@muc.localhost"
			clients := make([]*xmpptest.Client, n)
			for i := range clients {
				user := fmt.Sprintf("u%d", i)
				srv.AddUser(b, user, "pw-bench-1")
				c := srv.Login(b, user, "pw-bench-1", "r")
				c.Send("<presence to='" + room + "/" + user + "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>")
				c.Expect("self-presence", func(el *stanza.Element) bool {
					return el.Name.Local == "presence" && el.Get("from") == room+"/"+user && strings.Contains(el.String(), "110")
				})
				if i == 0 {
					// An instant room: accept the default configuration.
					c.IQ("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
				}
				clients[i] = c
			}
			// Everyone has seen the last arrival: the join traffic is over.
			last := fmt.Sprintf("%s/u%d", room, n-1)
			for _, c := range clients[:n-1] {
				c.Expect("the last arrival", func(el *stanza.Element) bool {
					return el.Name.Local == "presence" && el.Get("from") == last
				})
			}
			counts := make(chan int, n)
			stop := make(chan struct{})
			for _, c := range clients {
				go func() {
					got := 0
					for {
						el, err := c.ReadElement(time.Minute)
						if err != nil {
							counts <- got
							return
						}
						if el.Name.Local == "message" && el.Get("type") == "groupchat" && el.Child("", "body") != nil {
							if got++; got == b.N {
								counts <- got
								<-stop
								return
							}
						}
					}
				}()
			}
			msg := "<message to='" + room + "' type='groupchat'><body>Hello everyone, this is a message of moderate length.</body></message>"
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				clients[0].Send(msg)
			}
			for range n {
				if got := <-counts; got != b.N {
					b.Fatalf("an occupant got %d of %d messages", got, b.N)
				}
			}
			b.StopTimer()
			close(stop)
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkPresenceBroadcast measures one presence update of a user with
// 50 subscribed contacts online: the roster read and 50 deliveries.
func BenchmarkPresenceBroadcast(b *testing.B) {
	const contacts = 50
	srv := xmpptest.NewServer(b, "[limits]\nbytes_per_second = 0")
	srv.AddUser(b, "star", "pw-bench-1")
	star := srv.LoginAvailable(b, "star", "pw-bench-1", "r")
	fans := make([]*xmpptest.Client, contacts)
	for i := range fans {
		user := fmt.Sprintf("fan%d", i)
		srv.AddUser(b, user, "pw-bench-1")
		fans[i] = srv.LoginAvailable(b, user, "pw-bench-1", "r")
		fans[i].Send("<presence to='star@localhost' type='subscribe'/>")
		star.Expect("subscription request", func(el *stanza.Element) bool {
			return el.Name.Local == "presence" && el.Get("type") == "subscribe"
		})
		star.Send("<presence to='" + user + "@localhost' type='subscribed'/>")
		fans[i].Expect("star's presence", func(el *stanza.Element) bool {
			return el.Name.Local == "presence" && el.Get("from") == "star@localhost/r" && el.Get("type") == ""
		})
	}
	done := make(chan int, contacts)
	for _, f := range fans {
		go func() {
			got := 0
			for got < b.N {
				el, err := f.ReadElement(time.Minute)
				if err != nil {
					break
				}
				if el.Name.Local == "presence" && el.Get("from") == "star@localhost/r" && el.ChildText("", "status") != "" {
					got++
				}
			}
			done <- got
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		star.Send(fmt.Sprintf("<presence><status>s%d</status></presence>", i))
	}
	for range contacts {
		if got := <-done; got != b.N {
			b.Fatalf("a contact got %d of %d updates", got, b.N)
		}
	}
}
