package vcard

import (
	"testing"

	"hearth/mod/internal/modtest"
)

func TestPhotoHash(t *testing.T) {
	for xml, want := range map[string]string{
		// sha1("abc"), base64 "YWJj", with the line breaks clients insert.
		"<vCard xmlns='vcard-temp'><PHOTO><BINVAL>YW\n Jj</BINVAL></PHOTO></vCard>":  "a9993e364706816aba3e25717850c26c9cd0d89d",
		"<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>http://x</EXTVAL></PHOTO></vCard>": "",
		"<vCard xmlns='vcard-temp'><PHOTO><BINVAL>!!!</BINVAL></PHOTO></vCard>":      "",
		"<vCard xmlns='vcard-temp'/>": "",
	} {
		if got := photoHash(modtest.Parse(t, xml)); got != want {
			t.Errorf("photoHash(%s) = %q, want %q", xml, got, want)
		}
	}
}
