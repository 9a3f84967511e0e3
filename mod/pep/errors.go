package pep

import "hearth/stanza"

// pubsubError returns the error condition with the XEP-0060 application
// condition app (in NSErrors), and text when not empty.
func pubsubError(condition, app, text string) *stanza.Error {
	e := stanza.NewError(condition)
	e.App = stanza.New(NSErrors, app)
	e.Text = text
	return e
}

// unsupported is feature-not-implemented with <unsupported feature=.../>
// (XEP-0060 §7.1.3.2, §6.1.3.4 and the like): the action needs a feature PEP does not
// offer.
func unsupported(feature string) *stanza.Error {
	e := stanza.NewError("feature-not-implemented")
	e.App = stanza.New(NSErrors, "unsupported", "feature", feature)
	return e
}

func badRequest(text string) *stanza.Error {
	return &stanza.Error{Type: stanza.Modify, Condition: "bad-request", Text: text}
}

// notOwner is the error of an action only the account itself may take.
func notOwner() *stanza.Error {
	return &stanza.Error{Type: stanza.Auth, Condition: "forbidden", Text: "only the account owner may do this"}
}

func itemNotFound(text string) *stanza.Error {
	return &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found", Text: text}
}
