package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const nsCommands = "http://jabber.org/protocol/commands"

// runCommand executes node in two stages (XEP-0050 §3.4): the form, then
// the submitted fields; it returns the final reply.
func runCommand(t *testing.T, c *xmpptest.Client, node, fields string) *stanza.Element {
	t.Helper()
	r := c.IQ(fmt.Sprintf("<iq type='set' id='%s' to='localhost'><command xmlns='%s' node='%s' action='execute'/></iq>", c.NextID(), nsCommands, node))
	cmd := r.Child(nsCommands, "command")
	if r.Get("type") != "result" || cmd == nil || cmd.Get("status") != "executing" || cmd.Child(stanza.NSData, "x") == nil {
		t.Fatalf("%s stage 1: %s", node, r)
	}
	return c.IQ(fmt.Sprintf("<iq type='set' id='%s' to='localhost'><command xmlns='%s' node='%s' sessionid='%s' action='complete'>"+
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>%s</x></command></iq>",
		c.NextID(), nsCommands, node, cmd.Get("sessionid"), fields))
}

func completed(t *testing.T, r *stanza.Element) *stanza.Element {
	t.Helper()
	cmd := r.Child(nsCommands, "command")
	if r.Get("type") != "result" || cmd == nil || cmd.Get("status") != "completed" {
		t.Fatalf("command not completed: %s", r)
	}
	return cmd
}

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `admins = ["boss@localhost"]`)
	srv.AddUser(t, "boss", "boss-pw")
	srv.AddUser(t, "bob", "bob-pw")
	boss := srv.LoginAvailable(t, "boss", "boss-pw", "desk")
	bob := srv.LoginAvailable(t, "bob", "bob-pw", "phone")

	// Discovery: the admin sees the commands, a user does not.
	items := boss.IQ("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>")
	if !strings.Contains(items.String(), "admin#add-user") || !strings.Contains(items.String(), "admin#announce") {
		t.Fatalf("admin's command list: %s", items)
	}
	if items := bob.IQ("<iq type='get' id='d2' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>"); strings.Contains(items.String(), "admin#") {
		t.Fatalf("a user sees admin commands: %s", items)
	}
	// A user may not execute them.
	r := bob.IQ("<iq type='set' id='x1' to='localhost'><command xmlns='" + nsCommands + "' node='http://jabber.org/protocol/admin#add-user' action='execute'/></iq>")
	if r.Get("type") != "error" || r.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, "forbidden") == nil {
		t.Fatalf("user executing add-user: %s", r)
	}

	// Add a user, who can then log in.
	completed(t, runCommand(t, boss, "http://jabber.org/protocol/admin#add-user",
		"<field var='accountjid'><value>carol@localhost</value></field><field var='password'><value>carol-pw-1</value></field><field var='password-verify'><value>carol-pw-1</value></field>"))
	srv.Login(t, "carol", "carol-pw-1", "a").Close()
	// Mismatched passwords and an existing account are refused.
	if r := runCommand(t, boss, "http://jabber.org/protocol/admin#add-user",
		"<field var='accountjid'><value>dave@localhost</value></field><field var='password'><value>x1234567</value></field><field var='password-verify'><value>y1234567</value></field>"); r.Get("type") != "error" {
		t.Fatalf("mismatched passwords accepted: %s", r)
	}
	if r := runCommand(t, boss, "http://jabber.org/protocol/admin#add-user",
		"<field var='accountjid'><value>carol@localhost</value></field><field var='password'><value>x1234567</value></field><field var='password-verify'><value>x1234567</value></field>"); r.Get("type") != "error" || !strings.Contains(r.String(), "conflict") {
		t.Fatalf("existing account re-created: %s", r)
	}

	// Change carol's password: the new one works.
	completed(t, runCommand(t, boss, "http://jabber.org/protocol/admin#change-user-password",
		"<field var='accountjid'><value>carol@localhost</value></field><field var='password'><value>carol-pw-2</value></field>"))
	srv.Login(t, "carol", "carol-pw-2", "b").Close()

	// Online users: boss and bob.
	cmd := completed(t, runCommand(t, boss, "http://jabber.org/protocol/admin#get-online-users-list", "<field var='max_items'><value>100</value></field>"))
	if got := cmd.String(); !strings.Contains(got, "<value>bob@localhost</value>") || !strings.Contains(got, "<value>boss@localhost</value>") {
		t.Fatalf("online users: %s", got)
	}

	// Announce: bob gets a headline from the server.
	completed(t, runCommand(t, boss, "http://jabber.org/protocol/admin#announce",
		"<field var='subject'><value>Maintenance</value></field><field var='announcement'><value>Restart at noon</value></field>"))
	bob.Expect("announcement", func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Get("from") == "localhost" && el.ChildText(stanza.NSClient, "body") == "Restart at noon"
	})

	// End bob's session: his stream is closed.
	completed(t, runCommand(t, boss, "http://jabber.org/protocol/admin#end-user-session", "<field var='accountjids'><value>bob@localhost</value></field>"))
	bob.ExpectConnClosed(5 * time.Second)

	// Delete carol: she can no longer log in.
	cmd = completed(t, runCommand(t, boss, "http://jabber.org/protocol/admin#delete-user", "<field var='accountjids'><value>carol@localhost</value></field>"))
	if !strings.Contains(cmd.String(), "Deleted: carol@localhost") {
		t.Fatalf("delete note: %s", cmd)
	}
	c := xmpptest.Dial(t, srv.C2S, "localhost", false)
	c.OpenStream()
	c.StartTLS()
	if f := c.Auth("SCRAM-SHA-256", "carol", "carol-pw-2"); f == nil {
		t.Fatal("deleted account still logs in")
	}

	// Cancelling a session and reusing a finished one.
	r = boss.IQ("<iq type='set' id='c1' to='localhost'><command xmlns='" + nsCommands + "' node='http://jabber.org/protocol/admin#announce' action='execute'/></iq>")
	sid := r.Child(nsCommands, "command").Get("sessionid")
	r = boss.IQ("<iq type='set' id='c2' to='localhost'><command xmlns='" + nsCommands + "' node='http://jabber.org/protocol/admin#announce' sessionid='" + sid + "' action='cancel'/></iq>")
	if r.Child(nsCommands, "command").Get("status") != "canceled" {
		t.Fatalf("cancel: %s", r)
	}
	r = boss.IQ("<iq type='set' id='c3' to='localhost'><command xmlns='" + nsCommands + "' node='http://jabber.org/protocol/admin#announce' sessionid='" + sid + "' action='complete'><x xmlns='jabber:x:data' type='submit'/></command></iq>")
	if r.Get("type") != "error" {
		t.Fatalf("a cancelled session went on: %s", r)
	}
}

// TestAdhocErrors: XEP-0050 misuse gets protocol errors: an unknown node,
// a stage without session, a session of someone else, a stage without form.
func TestAdhocErrors(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `admins = ["boss@localhost", "deputy@localhost"]`)
	srv.AddUser(t, "boss", "pw")
	srv.AddUser(t, "deputy", "pw")
	boss := srv.LoginAvailable(t, "boss", "pw", "a")
	deputy := srv.LoginAvailable(t, "deputy", "pw", "b")
	cond := func(r *stanza.Element) string {
		if r.Get("type") != "error" {
			return "no error: " + r.String()
		}
		for _, c := range r.Child(stanza.NSClient, "error").Elements() {
			if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
				return c.Name.Local
			}
		}
		return "?"
	}
	const announce = "http://jabber.org/protocol/admin#announce"
	if got := cond(boss.IQ("<iq type='set' id='e1' to='localhost'><command xmlns='" + nsCommands + "' node='urn:example:nope' action='execute'/></iq>")); got != "item-not-found" {
		t.Errorf("unknown node: %s", got)
	}
	if got := cond(boss.IQ("<iq type='set' id='e2' to='localhost'><command xmlns='" + nsCommands + "' node='" + announce + "' action='complete'/></iq>")); got != "bad-request" {
		t.Errorf("complete without session: %s", got)
	}
	r := boss.IQ("<iq type='set' id='e3' to='localhost'><command xmlns='" + nsCommands + "' node='" + announce + "'/></iq>")
	sid := r.Child(nsCommands, "command").Get("sessionid")
	if got := cond(deputy.IQ("<iq type='set' id='e4' to='localhost'><command xmlns='" + nsCommands + "' node='" + announce + "' sessionid='" + sid + "' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field><field var='announcement'><value>hijack</value></field></x></command></iq>")); got != "bad-request" {
		t.Errorf("someone else's session: %s", got)
	}
	if got := cond(boss.IQ("<iq type='set' id='e5' to='localhost'><command xmlns='" + nsCommands + "' node='" + announce + "' sessionid='" + sid + "' action='complete'/></iq>")); got != "bad-request" {
		t.Errorf("stage without form: %s", got)
	}
	deputy.ExpectNone("hijacked announcement", func(el *stanza.Element) bool { return el.Name.Local == "message" }, 200*time.Millisecond)
	// disco#info of a command node, for an admin only.
	if r := boss.IQ("<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='" + announce + "'/></iq>"); !strings.Contains(r.String(), "command-node") {
		t.Errorf("command node info: %s", r)
	}
}
