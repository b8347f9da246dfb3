package wxpay_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxpay-go/wxpay"
	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The quick start of the README, run against the fake WeChat: a user logs
// in, orders a cup of tea, pays, and the verified notification arrives.
// checkout and markPaid below are the README's, character for character
// (TestReadmeQuickStart holds them to it).
func Example() {
	const appID, mchID = "wxd930ea5d5a258f4f", "10000100"
	fake := wxpaytest.NewServer(wxpaytest.Config{
		AppID: appID, MchID: mchID, APIKey: "192006250b4c09247ec02edce69f6a2d",
		SignType: wxpay.SignHMACSHA256, AppSecret: "0123456789abcdef0123456789abcdef",
		Speed: 600, // notification retries come ten minutes a second
	})
	defer fake.Close()

	var client *wxpay.Client
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client.NotifyHandler(markPaid).ServeHTTP(w, r)
	}))
	defer shop.Close()

	client, err := wxpay.NewClient(wxpay.Config{
		AppID: appID, MchID: mchID, APIKey: "192006250b4c09247ec02edce69f6a2d",
		SignType: wxpay.SignHMACSHA256, NotifyURL: shop.URL + "/wxpay/notify",
	}, wxpay.WithBaseURL(fake.URL))
	if err != nil {
		panic(err)
	}
	mp, err := miniprogram.NewClient(appID, "0123456789abcdef0123456789abcdef", miniprogram.WithBaseURL(fake.URL))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	pay, err := checkout(ctx, client, mp, fake.LoginCode(""), "T20261127001", 1200, "203.0.113.7")
	if err != nil {
		panic(err)
	}
	fmt.Println(pay.SignType, strings.HasPrefix(pay.Package, "prepay_id="))

	// The user confirms wx.requestPayment; WeChat notifies the shop.
	if _, err := fake.Pay(wxpaytest.PayOptions{OutTradeNo: "T20261127001"}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fake.WaitAcked(ctx, "T20261127001"); err != nil {
		panic(err)
	}
	// Output:
	// HMAC-SHA256 true
	// order T20261127001 paid: 1200 fen
}

// checkout turns a wx.login code into the arguments of wx.requestPayment
// for one order of fen (1/100 yuan) paid by the user at ip.
func checkout(ctx context.Context, client *wxpay.Client, mp *miniprogram.Client,
	loginCode, orderNo string, fen int64, ip string) (*wxpay.JSAPIParams, error) {
	sess, err := mp.Code2Session(ctx, loginCode)
	if err != nil {
		return nil, err
	}
	order, err := client.UnifiedOrder(ctx, &wxpay.UnifiedOrderRequest{
		Body:           "Tea - 1 cup",
		OutTradeNo:     orderNo, // your order number: retry with the same one, never a new one
		TotalFee:       fen,
		SpbillCreateIP: ip,
		TradeType:      wxpay.TradeJSAPI,
		OpenID:         sess.OpenID,
	})
	if err != nil {
		return nil, err
	}
	return client.JSAPIParams(order.PrepayID)
}

// markPaid is called once per verified notification, and WeChat repeats
// notifications: compare the amount with your order, mark it paid once,
// and return nil only after that is stored.
func markPaid(ctx context.Context, n *wxpay.Notification) error {
	if !n.Paid() {
		return nil
	}
	fmt.Printf("order %s paid: %d fen\n", n.OutTradeNo, n.TotalFee)
	return nil
}

// readmeProgram returns the Go program of the README's quick start
// under heading (a line of README.md): the first Go block after it.
func readmeProgram(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)\n" + regexp.QuoteMeta(heading) + "\n.*?```go\n(.*?)```").FindSubmatch(b)
	require.NotNil(t, m, "README has no Go block under %q", heading)
	return string(m[1])
}

// funcs returns the source text of every top-level function of a Go
// file, doc comment included, by name.
func funcs(t *testing.T, name, src string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	require.NoError(t, err)
	out := map[string]string{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			start := fd.Pos()
			if fd.Doc != nil {
				start = fd.Doc.Pos()
			}
			out[fd.Name.Name] = src[fset.Position(start).Offset:fset.Position(fd.End()).Offset]
		}
	}
	return out
}

// TestReadmeQuickStart keeps the README honest: each of its two
// programs (API v2, API v3) compiles as a module of its own that requires
// this one, and the functions it shares with its Example are the same
// text, so what the README shows is what the tests run: v2's with
// Example in this file, v3's with Example_checkout in
// apiv3/quickstart_test.go.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		heading, example string
		imports          []string // what the program must use, so the variants cannot swap
	}{
		{"### On API v2", "quickstart_test.go", []string{`"github.com/wxpay-go/wxpay"`, "wxpay.NewClient", "client.UnifiedOrder"}},
		{"### On API v3", "apiv3/quickstart_test.go", []string{`"github.com/wxpay-go/wxpay/apiv3"`, "apiv3.NewClient", "client.PrepayJSAPI", "client.NotifyHandler(markPaid)"}},
	} {
		t.Run(v.example, func(t *testing.T) {
			t.Parallel()
			prog := readmeProgram(t, v.heading)
			for _, s := range v.imports {
				require.Contains(t, prog, s)
			}
			self, err := os.ReadFile(v.example)
			require.NoError(t, err)
			readme, example := funcs(t, "README.md", prog), funcs(t, v.example, string(self))
			require.Contains(t, readme, "main")
			// The server is an http.Server with timeouts, not the bare
			// http.ListenAndServe that lets a client hold a connection
			// open forever.
			for _, s := range []string{"&http.Server{", "ReadHeaderTimeout:", "ReadTimeout:", "WriteTimeout:", "IdleTimeout:", "srv.ListenAndServe()"} {
				require.Contains(t, readme["main"], s)
			}
			require.NotContains(t, readme["main"], "http.ListenAndServe(")
			for _, name := range []string{"checkout", "markPaid"} {
				require.Contains(t, readme, name)
				require.Equal(t, readme[name], example[name], "%s differs between README.md and %s", name, v.example)
			}
			buildProgram(t, prog)
		})
	}
}

// buildProgram vets prog as the main package of a module of its own
// that requires this one.
func buildProgram(t *testing.T, prog string) {
	t.Helper()
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	dir := t.TempDir()
	gomod := "module quickstart\n\ngo 1.22\n\nrequire github.com/wxpay-go/wxpay v0.0.0\n\nreplace github.com/wxpay-go/wxpay => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o644))
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "vet", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's quick start does not build:\n%s", out)
}
