package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"synthkit/local/ollamatest"
)

// Bad input through the CLI: every file synthkit reads (seeds, prompts, a
// journal segment, run.json), broken in the ways files break, and the
// environment failing (unknown model, no server, something else at the
// address, a read-only or full disk). Each case must end with one plain
// message that names the file (and line, where there is one), the
// documented exit status, no panic, and the journal intact: a run directory
// that existed is byte-identical afterwards, and none is created for a run
// that could not start.

// goSpeak matches text that reads like Go rather than words for a user.
var goSpeak = regexp.MustCompile(`panic:|goroutine \d|map\[|\[\]interface|interface \{|struct \{|Go struct|Go value|json\.Number|\bfloat(32|64)\b|\bu?int(8|16|32|64)\b|%!|<nil>|\*?\b(export|local|prompts|inputs|runner|main|json|yaml|os|fs)\.[A-Z][A-Za-z0-9]*\b`)

// checkPlain fails when stderr is not one plain message.
func checkPlain(t *testing.T, stderr string) {
	t.Helper()
	if m := goSpeak.FindString(stderr); m != "" {
		t.Errorf("stderr reads like Go (%q):\n%s", m, stderr)
	}
	if n := strings.Count(stderr, "synthkit: "); n > 1 {
		t.Errorf("%d error messages, want one:\n%s", n, stderr)
	}
}

// treeHash maps every file under root (relative path) to its SHA-256 and
// mode, and every directory to "dir": a run directory's whole state.
func treeHash(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:]) + " " + info.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s changed (%q, was %q)", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sealLine makes a journal line with a valid checksum from a JSON object,
// as the journal writes it (see export/journal.go): the CRC-32C of the
// object, appended as a last "crc" field.
func sealLine(obj string) string {
	sum := crc32.Checksum([]byte(obj), crc32.MakeTable(crc32.Castagnoli))
	return fmt.Sprintf(`%s,"crc":"%08x"}`, obj[:len(obj)-1], sum) + "\n"
}

func TestBadInputFiles(t *testing.T) {
	base := t.TempDir()
	fiveMB := strings.Repeat("x", 5<<20)
	write := func(name, data string) string {
		p := filepath.Join(base, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// No server is needed: a file is checked before any is contacted. A
	// file wrongly accepted runs into the unreachable address (exit 3).
	noServer := []string{"--ollama", "127.0.0.1:1", "--no-start"}
	seeds := func(f, out string) []string {
		return append([]string{"instruct", "--method", "self-instruct", "--model", ollamatest.TinyModel, "--seeds", f, "--out", out}, noServer...)
	}
	respond := func(f, out string) []string {
		return append([]string{"respond", "--models", ollamatest.TinyModel, "--prompts", f, "--out", out}, noServer...)
	}
	evol := func(f, out string) []string {
		return append([]string{"instruct", "--method", "evol", "--model", ollamatest.TinyModel, "--prompts", f, "--out", out}, noServer...)
	}
	tests := []struct {
		name, file, data string
		cmd              func(f, out string) []string
		want             string // in stderr, after the file's name
	}{
		{"seeds: empty", "empty.jsonl", "", seeds, ": empty file: no seed tasks"},
		{"seeds: binary", "seeds.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", seeds, ": not a text file (a zero byte at offset 8)"},
		{"seeds: compressed", "seeds.jsonl", "\x1f\x8b\x08\x00junk", seeds, ": not an input file synthkit reads (a gzip-compressed file"},
		{"seeds: invalid UTF-8", "seeds.txt", "Write a poem.\nA broken \xff\xfe seed.\n", seeds, ":2: invalid UTF-8 (byte 0xff at column 10)"},
		{"seeds: 5 MB line cut off", "seeds.jsonl", `{"instruction": "Name a prime."}` + "\n" + `{"instruction": "` + fiveMB + "\n", seeds, ":2: invalid JSON"},
		{"seeds: wrong type", "seeds.jsonl", `{"instruction": "Sort a list."}` + "\n" + `{"instruction": 3}` + "\n", seeds, `:2: "instruction" must be a string, not a number`},
		{"seeds: wrong type of instances", "seeds.jsonl", `{"instruction": "Sort a list.", "instances": "3,1,2"}` + "\n", seeds, `:1: "instances" must be an array, not a string`},
		{"seeds: missing instruction", "seeds.jsonl", `{"id": "t1", "instances": []}` + "\n", seeds, `:1: missing "instruction"`},
		{"seeds: CSV without the column", "seeds.csv", "task,input\nSort,1\n", seeds, `:1: no "instruction" column in the header`},
		{"seeds: duplicate", "seeds.txt", "Write a poem.\nwrite a  POEM.\n", seeds, ":2: duplicate instruction (first on line 1)"},

		{"prompts: empty", "empty.txt", "\n\n", respond, ": no records: the input is empty"},
		{"prompts: binary", "prompts.jsonl", "\x00\x00\x00\x00\x01\x02", respond, ": not an input file synthkit reads (binary data)"},
		{"prompts: invalid UTF-8 in CSV", "prompts.csv", "prompt\nfine\nbad \xc3\x28 here\n", respond, ":3: invalid UTF-8 (byte 0xc3"},
		{"prompts: invalid UTF-8 in JSON Lines", "prompts.jsonl", `{"prompt": "ok"}` + "\n" + "{\"prompt\": \"bad \xe2\x82\"}\n", respond, ":2: invalid UTF-8"},
		{"prompts: 5 MB line cut off", "prompts.jsonl", `{"prompt": "` + fiveMB + "\n", respond, ":1: invalid JSON"},
		{"prompts: wrong type", "prompts.jsonl", `{"prompt": ["a", 1]}` + "\n", respond, `:1: "prompt": message 1 is a string, want an object with role and content`},
		{"prompts: not an object", "prompts.jsonl", `{"prompt": "ok"}` + "\n[1, 2]\n", respond, ":2: expected one JSON object per line, found an array"},
		{"prompts: missing prompt", "prompts.jsonl", `{"text": "hello"}` + "\n", respond, `:1: no prompt: want a "prompt"`},
		{"prompts: message without content", "prompts.jsonl", `{"messages": [{"role": "user"}]}` + "\n", respond, ":1: empty prompt: no user message with text"},
		{"prompts: JSON array element", "prompts.json", `[{"prompt": "a"}, 2]`, respond, ":1: element 1 of the array is a number, want a JSON object"},
		{"prompts: short CSV row", "prompts.csv", "prompt,id\nhello\n", respond, ":2: 1 fields, but the header has 2"},
		{"evol prompts: binary", "evol.jsonl", "PK\x03\x04zip", evol, ": not an input file synthkit reads (a zip archive"},
		{"evol prompts: invalid UTF-8", "evol.txt", "Explain tides.\n\xff\n", evol, ":2: invalid UTF-8"},
		{"evol prompts: wrong type", "evol.jsonl", `{"instruction": 3}` + "\n", evol, `:1: "instruction" is a number, want a string`},
		{"evol prompts: missing file", "", "", evol, ": couldn't read: no such file or directory"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(base, fmt.Sprintf("missing-%d.jsonl", i))
			if tt.file != "" {
				f = write(fmt.Sprintf("%d-%s", i, tt.file), tt.data)
			}
			out := filepath.Join(base, fmt.Sprintf("out-%d", i))
			code, stdout, stderr := runCLI(t, tt.cmd(f, out)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			if want := "synthkit: " + f + tt.want; !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%.600s", want, stderr)
			}
			checkPlain(t, stderr)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was created for a run that could not start", out)
			}
		})
	}
}

// testRun makes one finished respond run against the real server and
// returns its directory, the prompts file and the arguments that resume it.
func testRun(t *testing.T, host, base string) (dir string, args func(out string, extra ...string) []string) {
	t.Helper()
	prompts := filepath.Join(base, "prompts.txt")
	if err := os.WriteFile(prompts, []byte("Explain how rivers form.\nGive three uses of copper.\nWrite a haiku about rain.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args = func(out string, extra ...string) []string {
		return append([]string{"respond", "--prompts", prompts, "--models", ollamatest.TinyModel, "--out", out,
			"--num-predict", "64", "--concurrency", "2", "--seed", "3", "--ollama", host}, extra...)
	}
	dir = filepath.Join(base, "run")
	if code, stdout, stderr := runCLI(t, args(dir)...); code != exitOK {
		t.Fatalf("respond: exit %d\n%s\n%s", code, stdout, stderr)
	}
	return dir, args
}

// TestBadRunFiles breaks a finished run's journal segment and run.json
// in every way and runs `export DIR` and a resume on it.
func TestBadRunFiles(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	good, resume := testRun(t, host, base)
	segs, _ := filepath.Glob(filepath.Join(good, "journal", "*.jsonl"))
	if len(segs) != 1 {
		t.Fatalf("journal segments %q, want one", segs)
	}
	segName := filepath.Join("journal", filepath.Base(segs[0]))
	goodSeg, _ := os.ReadFile(segs[0])
	firstLine := string(goodSeg[:strings.IndexByte(string(goodSeg), '\n')+1])
	rest := string(goodSeg[len(firstLine):])
	fiveMB := strings.Repeat("x", 5<<20)

	tests := []struct {
		name   string
		file   string // relative to the run
		data   string
		export bool   // run `export DIR`; else resume the run
		code   int    // the documented status
		want   string // in stderr; "" means success
	}{
		// Damage a crash cannot leave is refused with the byte range.
		{"journal: binary inside", segName, firstLine + "\x00\x01\x02\xff\n" + rest, true, exitError, "is damaged at bytes"},
		{"journal: invalid UTF-8 inside", segName, firstLine + "{\"unit\":\"\xff\xfe\"}\n" + rest, true, exitError, "is damaged at bytes"},
		{"journal: 5 MB line inside", segName, firstLine + fiveMB + "\n" + rest, true, exitError, "is damaged at bytes"},
		{"journal: binary inside, resume", segName, firstLine + "\x00\x01\x02\xff\n" + rest, false, exitError, "is damaged at bytes"},
		// Lines with a valid checksum but the wrong content (written by
		// hand, or by another version) are named by unit and field.
		{"journal: row of the wrong type", segName, string(goodSeg) + sealLine(`{"unit":"x-1","kind":"row","configs":["sft"],"prov":{},"rows":[{"messages":"hi"}]}`),
			true, exitError, `decode journal entry of "x-1": field "rows.messages" is a string, want a list`},
		{"journal: rejection reason of the wrong type", segName, string(goodSeg) + sealLine(`{"unit":"x-2","kind":"reject","reason":7}`),
			true, exitError, `decode rejection of "x-2": field "reason" is a number, want a string`},
		{"journal: rejection reason of the wrong type, resume", segName, string(goodSeg) + sealLine(`{"unit":"x-2","kind":"reject","reason":7}`),
			false, exitError, `decode rejection of "x-2": field "reason" is a number, want a string`},
		{"journal: row without rows", segName, string(goodSeg) + sealLine(`{"unit":"x-3","kind":"row","configs":["sft"]}`),
			true, exitError, `journal entry of "x-3" has no row 0`},
		{"journal: empty segment after the last", filepath.Join("journal", "00000009.jsonl"), "", true, exitOK, ""},

		{"run.json: empty", "run.json", "", true, exitError, "run.json:1: unexpected end of JSON input"},
		{"run.json: empty, resume", "run.json", "", false, exitError, "run.json:1: unexpected end of JSON input; pass --fresh"},
		{"run.json: binary", "run.json", "\x00\x01\x02", true, exitError, "run.json:1: invalid character"},
		{"run.json: invalid UTF-8", "run.json", "{\"method\": \"\xff\"}", false, exitError, "method was"},
		{"run.json: 5 MB line", "run.json", `{"notes": ["` + fiveMB + `"], "seed": "x"}`, true, exitError, `run.json:1: field "seed" is a string, want a whole number`},
		{"run.json: wrong types", "run.json", "{\n  \"method\": \"respond\",\n  \"seed\": \"three\"\n}\n", true, exitError, `run.json:3: field "seed" is a string, want a whole number`},
		{"run.json: wrong types, resume", "run.json", "{\n  \"method\": \"respond\",\n  \"models\": {\"name\": 1}\n}\n", false, exitError, `run.json:3: field "models" is an object, want a list`},
		{"run.json: missing fields, resume", "run.json", "{}\n", false, exitError, `cannot resume the run in`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprintf("case-%d", i))
			copyTree(t, good, dir)
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			before := treeHash(t, dir)
			args := []string{"export", dir}
			if !tt.export {
				args = resume(dir)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %.800s", code, tt.code, stdout, stderr)
			}
			checkPlain(t, stderr)
			if tt.want == "" {
				// An export that succeeds writes Parquet and the card,
				// never the journal or run.json.
				after := treeHash(t, dir)
				for k, v := range before {
					if (strings.HasPrefix(k, "journal") || k == "run.json") && after[k] != v {
						t.Errorf("%s changed by export", k)
					}
				}
				return
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%.800s", tt.want, stderr)
			}
			if !strings.Contains(stderr, filepath.Join(dir, tt.file)) && !strings.Contains(stderr, dir) {
				t.Errorf("stderr does not name %s:\n%.800s", tt.file, stderr)
			}
			sameTree(t, "run after a refused "+args[0], treeHash(t, dir), before)
		})
	}
}

// TestBadEnvironment: the server or the model is missing, or something
// else answers; an existing run is left byte-identical and no new run
// directory is made.
func TestBadEnvironment(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	good, resume := testRun(t, host, base)
	notOllama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>a router login page</html>"))
	}))
	defer notOllama.Close()

	tests := []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"unknown model", []string{"--models", "no-such-model-zz9"}, exitNoModel, "the run needs no-such-model-zz9"},
		{"unreachable host", []string{"--ollama", "127.0.0.1:1", "--no-start"}, exitNoServer, "no Ollama at http://127.0.0.1:1"},
		{"not an Ollama host", []string{"--ollama", notOllama.URL, "--no-start"}, exitNoServer, "not Ollama"},
	}
	for i, tt := range tests {
		for _, existing := range []bool{false, true} {
			name := tt.name + ", new run"
			if existing {
				name = tt.name + ", resume"
			}
			t.Run(name, func(t *testing.T) {
				dir := filepath.Join(base, fmt.Sprintf("env-%d-%v", i, existing))
				var before map[string]string
				if existing {
					copyTree(t, good, dir)
					before = treeHash(t, dir)
				}
				code, stdout, stderr := runCLI(t, resume(dir, tt.extra...)...)
				if code != tt.code {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
				}
				checkPlain(t, stderr)
				if existing {
					sameTree(t, "run after "+tt.name, treeHash(t, dir), before)
				} else if _, err := os.Stat(dir); err == nil {
					t.Errorf("%s was created for a run that could not start", dir)
				}
			})
		}
	}
}

// The read-only and full-disk cases run the CLI in a child process with
// its own mount namespace (root only; the mounts vanish with the child).
// Without root, a read-only directory is a chmod.

const (
	badInputChildEnv = "SYNTHKIT_BADINPUT_CHILD"
	exitNoMount      = 42
)

// TestBadInputChild is the child's side: it mounts, then runs the CLI with
// the arguments in SYNTHKIT_BADINPUT_ARGS and exits with its status.
func TestBadInputChild(t *testing.T) {
	mode := os.Getenv(badInputChildEnv)
	if mode == "" {
		t.Skip("runs only as the child of TestReadOnlyAndFullDisk")
	}
	dir := os.Getenv("SYNTHKIT_BADINPUT_DIR")
	mount := func(src, target, fstype string, flags uintptr, data string) {
		if err := syscall.Mount(src, target, fstype, flags, data); err != nil {
			fmt.Fprintln(os.Stderr, "mount:", err)
			os.Exit(exitNoMount)
		}
	}
	switch mode {
	case "readonly":
		mount(dir, dir, "", syscall.MS_BIND, "")
		mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
	case "full":
		mount("tmpfs", dir, "tmpfs", 0, "size=256k")
		// Fill most of it, so the run gets going and then hits the wall.
		os.WriteFile(filepath.Join(dir, "ballast"), make([]byte, 244<<10), 0o644)
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv("SYNTHKIT_BADINPUT_ARGS")), &args); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, args...)
	if mode == "full" {
		// Keep what the run left for the parent to check: the tmpfs goes
		// with this process.
		copyTree(t, filepath.Join(dir, "run"), os.Getenv("SYNTHKIT_BADINPUT_KEEP"))
	}
	fmt.Print(stdout)
	fmt.Fprint(os.Stderr, stderr)
	os.Exit(code)
}

func runBadInputChild(t *testing.T, mode, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBadInputChild$")
	argsJSON, _ := json.Marshal(args)
	cmd.Env = append(os.Environ(), append(env, badInputChildEnv+"="+mode, "SYNTHKIT_BADINPUT_DIR="+dir,
		"SYNTHKIT_BADINPUT_ARGS="+string(argsJSON))...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Skipf("cannot start a child in a mount namespace here: %v", err)
	}
	if code == exitNoMount {
		t.Skipf("cannot mount in a private namespace here: %s", stderr.String())
	}
	return code, stderr.String()
}

func TestReadOnlyAndFullDisk(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	good, resume := testRun(t, host, base)

	t.Run("read-only output directory", func(t *testing.T) {
		parent := filepath.Join(base, "ro")
		run := filepath.Join(parent, "run")
		copyTree(t, good, run)
		before := treeHash(t, run)
		for _, args := range [][]string{{"export", run}, resume(run), resume(filepath.Join(parent, "new"))} {
			var code int
			var stderr string
			if os.Geteuid() == 0 {
				code, stderr = runBadInputChild(t, "readonly", parent, nil, args...)
			} else {
				os.Chmod(run, 0o555)
				os.Chmod(parent, 0o555)
				code, _, stderr = runCLI(t, args...)
				os.Chmod(parent, 0o755)
				os.Chmod(run, 0o755)
			}
			if code != exitError {
				t.Errorf("%s: exit %d, want %d\n%s", args[0], code, exitError, stderr)
			}
			if !strings.Contains(stderr, "choose a writable --out") || !strings.Contains(stderr, parent) {
				t.Errorf("%s: stderr lacks the path and the hint:\n%s", args[0], stderr)
			}
			checkPlain(t, stderr)
		}
		sameTree(t, "run on a read-only disk", treeHash(t, run), before)
		if _, err := os.Stat(filepath.Join(parent, "new")); err == nil {
			t.Error("a new run directory was created on a read-only disk")
		}
	})

	t.Run("full disk", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to mount a small tmpfs in a mount namespace; export's disk tests fill a disk without root")
		}
		mnt := filepath.Join(base, "full")
		keep := filepath.Join(base, "full-kept")
		os.MkdirAll(mnt, 0o755)
		var prompts []string
		for i := range 120 {
			prompts = append(prompts, fmt.Sprintf("Write a long story about the number %d.", i))
		}
		pf := filepath.Join(base, "many.txt")
		os.WriteFile(pf, []byte(strings.Join(prompts, "\n")+"\n"), 0o644)
		args := []string{"respond", "--prompts", pf, "--models", ollamatest.TinyModel, "--out", filepath.Join(mnt, "run"),
			"--num-predict", "512", "--concurrency", "2", "--ollama", host}
		code, stderr := runBadInputChild(t, "full", mnt, []string{"SYNTHKIT_BADINPUT_KEEP=" + keep}, args...)
		if code != exitError {
			t.Fatalf("exit %d, want %d\n%s", code, exitError, stderr)
		}
		if !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "disk is full") {
			t.Errorf("stderr lacks ENOSPC and the hint:\n%s", stderr)
		}
		checkPlain(t, stderr)
		t.Logf("on a full disk: %s", strings.TrimSpace(stderr))
		// What the run acknowledged is in the journal, whole: it exports
		// (with room to spare) with no damage and no torn tail.
		code, stdout, stderr := runCLI(t, "export", keep)
		if code != exitOK {
			t.Fatalf("export of the run that filled the disk: exit %d\n%s\n%s", code, stdout, stderr)
		}
		t.Logf("export afterwards: %s", strings.TrimSpace(stdout))
		if strings.Contains(stdout+stderr, "torn") || strings.Contains(stdout+stderr, "damaged") {
			t.Errorf("the journal left by a full disk is not clean:\n%s\n%s", stdout, stderr)
		}
	})
}

// TestPushTokenNotShown: through the CLI, a Hub that rejects the token and
// echoes it back in its errors gets it into neither stdout nor stderr nor
// any file of the run; the failure exits 1 with the step that failed. (The
// export package tests every failure path of Push the same way.)
func TestPushTokenNotShown(t *testing.T) {
	host := ollamatest.Host(t)
	base := t.TempDir()
	dir, _ := testRun(t, host, base)
	const token = "hf_CLIsecretCLIsecret000000000000000000"
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				w.Header().Set("X-Error-Message", "bad credentials "+auth)
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"error": "bad credentials %s"}`, auth)
			}))
			defer hub.Close()
			t.Setenv("HF_TOKEN", token)
			t.Setenv("HF_ENDPOINT", hub.URL)
			t.Setenv("HF_HOME", t.TempDir())
			code, stdout, stderr := runCLI(t, "push", dir, "--repo", "alice/data")
			if code != exitError {
				t.Errorf("exit %d, want %d\n%s\n%s", code, exitError, stdout, stderr)
			}
			if !strings.Contains(stderr, strconv.Itoa(status)) {
				t.Errorf("stderr does not give the Hub's answer %d:\n%s", status, stderr)
			}
			if strings.Contains(stdout+stderr, token) || strings.Contains(stdout+stderr, token[3:20]) {
				t.Fatalf("the token is printed:\n%s\n%s", stdout, stderr)
			}
			checkPlain(t, stderr)
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), token) {
						t.Errorf("the token is written to %s", p)
					}
				}
				return nil
			})
		})
	}
}
