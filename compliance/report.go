package compliance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Marks of the table.
const (
	MarkPass = "✓"
	MarkFail = "✗"
)

// WriteTable prints the report as a table: one line per check (mark, ID,
// specification, what is tested, the categories that require it), then
// an indented line with what the probe saw and, for failures, one with
// what to fix. The last line is the verdict. ParseTable reads it back.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "XMPP compliance of %s (logged in as %s at %s), XEP-0479 %s level and Conversations\n\n",
		r.JID.Domain(), r.JID, r.Server, r.Level)
	const indent = "                    "
	var pass, req, infoPass, info int
	for _, res := range r.Results {
		mark := MarkFail
		if res.Passed {
			mark = MarkPass
		}
		cats := strings.Join(res.Categories(), " ")
		switch {
		case res.Informational:
			cats = "(informational)"
			info++
			if res.Passed {
				infoPass++
			}
		case !res.Required:
			cats += " (not required here)"
		default:
			req++
			if res.Passed {
				pass++
			}
		}
		fmt.Fprintf(bw, "%s %-17s %-18s %-46s %s\n", mark, res.ID, res.Spec, res.Name, cats)
		fmt.Fprintf(bw, "%s%s\n", indent, oneLine(res.Detail))
		if !res.Passed {
			fmt.Fprintf(bw, "%sfix: %s\n", indent, res.Fix)
		}
	}
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(bw, "\n%s: %d of %d required checks pass; %d of %d informational\n", verdict, pass, req, infoPass, info)
	return bw.Flush()
}

// oneLine keeps a detail on its line of the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ParseTable reads the check lines of a table written by WriteTable and
// returns whether each check ID passed. It reports an error when no check
// line is found or the verdict line is missing.
func ParseTable(r io.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	verdict := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case MarkPass:
			out[f[1]] = true
		case MarkFail:
			out[f[1]] = false
		case "PASS:", "FAIL:":
			verdict = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 || !verdict {
		return nil, fmt.Errorf("compliance: not a report table")
	}
	return out, nil
}

// jsonResult is one check in WriteJSON's output.
type jsonResult struct {
	ID            string   `json:"id"`
	Spec          string   `json:"spec"`
	Name          string   `json:"name"`
	Categories    []string `json:"categories"`
	Passed        bool     `json:"passed"`
	Required      bool     `json:"required"`
	Informational bool     `json:"informational"`
	Detail        string   `json:"detail"`
	Fix           string   `json:"fix,omitempty"`
}

// WriteJSON prints the report as one JSON object, for monitoring: the
// account, server, level, "ok" (every required check passed) and the
// results in table order; "fix" is present for failures only.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		JID     string       `json:"jid"`
		Server  string       `json:"server"`
		Level   string       `json:"level"`
		OK      bool         `json:"ok"`
		Results []jsonResult `json:"results"`
	}{JID: r.JID.String(), Server: r.Server, Level: r.Level.String(), OK: r.OK(), Results: []jsonResult{}}
	for _, res := range r.Results {
		j := jsonResult{
			ID: res.ID, Spec: res.Spec, Name: res.Name, Categories: res.Categories(),
			Passed: res.Passed, Required: res.Required, Informational: res.Informational, Detail: res.Detail,
		}
		if !res.Passed {
			j.Fix = res.Fix
		}
		out.Results = append(out.Results, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
