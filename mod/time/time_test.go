package time_test

import (
	"testing"
	stdtime "time"

	"hearth/mod/internal/modtest"
	xtime "hearth/mod/time"
	"hearth/storage/memstore"
)

func TestTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  stdtime.Time
		want string
	}{
		{"utc", stdtime.Date(2006, 12, 19, 17, 58, 35, 0, stdtime.UTC),
			`<time xmlns='urn:xmpp:time'><tzo>+00:00</tzo><utc>2006-12-19T17:58:35Z</utc></time>`},
		{"west of utc", stdtime.Date(2006, 12, 19, 11, 58, 35, 999, stdtime.FixedZone("CST", -6*3600)),
			`<time xmlns='urn:xmpp:time'><tzo>-06:00</tzo><utc>2006-12-19T17:58:35Z</utc></time>`},
		{"half-hour east", stdtime.Date(2024, 2, 29, 5, 30, 0, 0, stdtime.FixedZone("IST", 5*3600+1800)),
			`<time xmlns='urn:xmpp:time'><tzo>+05:30</tzo><utc>2024-02-29T00:00:00Z</utc></time>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xtime.SetClock(t, func() stdtime.Time { return tc.now })
			env := modtest.New(t, "example.com", memstore.New())
			env.Start(t, xtime.Module, nil)
			env.Freeze(t)
			r := env.IQ(t, `<iq xmlns='jabber:client' type='get' id='t1' from='alice@example.com/a' to='example.com'><time xmlns='urn:xmpp:time'/></iq>`)
			r.WantResult(t, tc.want)
		})
	}
}
