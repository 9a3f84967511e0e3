package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeMemoryPolicy runs hearth serve and reads its GOGC and memory
// limit from /metrics: [memory] sets them (a 1 GiB headroom over a small
// heap is a GOGC in the thousands), and GOGC and GOMEMLIMIT in the
// environment win over the file.
func TestServeMemoryPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := hearthBinary(t)
	serve := func(env ...string) (gogc, limit float64) {
		t.Helper()
		metrics := freeAddr(t)
		cfg := filepath.Join(t.TempDir(), "hearth.toml")
		body := fmt.Sprintf("hosts = [\"localhost\"]\ndata_dir = %q\n[listen]\nc2s = [%q]\nmetrics = [%q]\n[memory]\nheadroom = \"1GiB\"\nlimit = \"3GiB\"\n",
			filepath.Join(dir, "data"+strconv.Itoa(len(env))), freeAddr(t), metrics)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", "-c", cfg)
		cmd.Env = append(os.Environ(), env...)
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		var text string
		for deadline := time.Now().Add(20 * time.Second); ; {
			if res, err := http.Get("http://" + metrics + "/metrics"); err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				text = string(b)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no /metrics from hearth serve:\n%s", out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		value := func(name string) float64 {
			for line := range strings.SplitSeq(text, "\n") {
				if v, ok := strings.CutPrefix(line, name+" "); ok {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("%s: %v", line, err)
					}
					return f
				}
			}
			t.Fatalf("/metrics has no %s", name)
			return 0
		}
		return value("go_gc_gogc_percent"), value("go_gc_gomemlimit_bytes")
	}
	if gogc, limit := serve(); gogc < 1000 || limit != 3<<30 {
		t.Errorf("[memory] headroom 1GiB, limit 3GiB: GOGC %v, limit %v; want GOGC over 1000 and a 3 GiB limit", gogc, limit)
	}
	if gogc, limit := serve("GOGC=70", "GOMEMLIMIT=2GiB"); gogc != 70 || limit != 2<<30 {
		t.Errorf("GOGC=70 GOMEMLIMIT=2GiB in the environment: GOGC %v, limit %v; want the environment's", gogc, limit)
	}
}
