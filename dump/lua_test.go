package dump

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseLuaData(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{`return {};`, luaTable{}},
		{"return {\n\t[\"password\"] = \"pw\";\n};\n", luaTable{"password": "pw"}},
		{`return { stored_key = "ab", iteration_count = 4096, }`, luaTable{"stored_key": "ab", "iteration_count": float64(4096)}},
		{`return {[false] = {version = 3; pending = {["a@b"] = true}}}`,
			luaTable{false: luaTable{"version": float64(3), "pending": luaTable{"a@b": true}}}},
		{`return {"a", 'b'; true, nil, -1.5e2, 0x1F}`, luaTable{float64(1): "a", float64(2): "b", float64(3): true, float64(5): -150.0, float64(6): float64(31)}},
		{`return "\a\b\f\n\r\t\v\\\"\'\65\066\x43\u{e9}\z   D"`, "\a\b\f\n\r\t\v\\\"'ABCéD"},
		{"return 'line\\\nbreak'", "line\nbreak"},
		{`return {[1] = "x", [2.5] = "y", x = nil}`, luaTable{float64(1): "x", 2.5: "y"}},
		{`return true`, true},
		{`return -  7`, float64(-7)},
	} {
		got, err := parseLuaData(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseLuaData(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestParseLuaDataErrors(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `return`, `return {`, `return {} x`, `return {a = 1 b = 2}`,
		`return {a = 1, a = 2}`, `return {[nil] = 1}`, `return {[{}] = 1}`, `return {true = 1}`,
		`return "unterminated`, "return \"line\nbreak\"", `return "\q"`, `return "\300"`, `return "\xZZ"`,
		`return "\u{110000}"`, `return 1..2`, `return 12abc`, `return os.exit()`, `return -- comment` + "\n{}",
		`return [[long]]`, `return {` + strings.Repeat("{", 40) + strings.Repeat("}", 41),
		`return 1e`, `return e5`,
	} {
		if v, err := parseLuaData(in); err == nil {
			t.Errorf("parseLuaData(%q) = %#v, want an error", in, v)
		}
	}
}

// FuzzParseLuaData checks that the parser never panics or loops, and that
// what it accepts has only the value types it documents. It runs over the
// seed corpus with plain go test.
func FuzzParseLuaData(f *testing.F) {
	files, _ := filepath.Glob("testdata/prosody/*/*/*.dat")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{`return {"a", [false] = {x = -1e3}, ["\u{41}\x42\67"] = 'q'};`, `return "\z  x"`, `return 0x10`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := parseLuaData(in)
		if err != nil {
			return
		}
		var check func(v any, depth int)
		check = func(v any, depth int) {
			if depth > maxLuaDepth+1 {
				t.Fatalf("nesting %d beyond the limit", depth)
			}
			switch v := v.(type) {
			case nil, string, float64, bool:
			case luaTable:
				for k, x := range v {
					switch k.(type) {
					case string, float64, bool:
					default:
						t.Fatalf("key of type %T", k)
					}
					if x == nil {
						t.Fatalf("nil value stored")
					}
					check(x, depth+1)
				}
			default:
				t.Fatalf("value of type %T", v)
			}
		}
		check(v, 0)
	})
}
