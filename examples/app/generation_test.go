package app_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// apiEnv, set by TestE2EV3 in the test process it starts, makes every
// harness run its server on WeChat Pay API v3 (WXPAY_API=v3) instead of
// v2.
const apiEnv = "WXPAY_TEST_API"

// testAPI is the generation the harnesses of this process pay with.
func testAPI() string {
	if os.Getenv(apiEnv) == "v3" {
		return "v3"
	}
	return "v2"
}

// onV3 reports that this process runs the suite on API v3.
func onV3() bool { return testAPI() == "v3" }

// v2Only skips a test whose subject is v2's wire format (its sign types,
// its XML) in the v3 run, saying so; the v2 run has it.
func v2Only(t *testing.T, why string) {
	t.Helper()
	if onV3() {
		t.Skipf("v2 only: %s (the v2 run of this suite has it)", why)
	}
}

// pemBody is a line from the middle of a PEM private key: private
// material (the first lines hold the public modulus), which a leak would
// show whatever the line breaks around it.
func pemBody(p []byte) string {
	lines := strings.Split(strings.TrimSpace(string(p)), "\n")
	if len(lines) < 3 {
		return ""
	}
	return lines[len(lines)/2]
}

// TestE2EV3 runs this package's tests again, in a child test process,
// with every harness on WeChat Pay API v3: the end-to-end suite (the
// flow, 100 concurrent deliveries, reconciliation, bad input, the
// OpenAPI check, the secret scan) holds on both generations. Under
// TestE2EPostgres the child runs on PostgreSQL too, so both generations
// run on both stores.
func TestE2EV3(t *testing.T) {
	if onV3() {
		t.Fatal(apiEnv + " is set: this test sets it for its own child run only")
	}
	args := []string{"-test.run", "^Test", "-test.skip", "^(TestE2EV3|TestE2EPostgres|TestInstances.*|TestSharedFake.*|TestRealMode|TestSecretScanner|TestBadNotificationsV3)$", "-test.count", "1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), apiEnv+"=v3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the end-to-end suite on API v3 failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("the API v3 run did not pass:\n%s", out)
	}
	t.Logf("end-to-end suite on API v3:\n%s", tail(string(out), 40))
}
