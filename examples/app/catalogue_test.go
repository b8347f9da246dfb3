package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// TestRealModeCatalogue: real mode never gets the demo shops; its
// catalogue comes from `server catalogue import`, which refuses a bad
// file and writes nothing then.
func TestRealModeCatalogue(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "real.db")
	realEnv := env(map[string]string{
		"WXPAY_APPID": "wx8888888888888888", "WXPAY_MCHID": "1900000109", "WXPAY_API_KEY": strings.Repeat("k", 32),
		"WX_APP_SECRET": strings.Repeat("s", 32), "PUBLIC_URL": "https://shop.example.com", "JWT_SECRET": testJWTSecret,
	})
	shops := func() shop.Page[shop.Shop] {
		t.Helper()
		c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", dbPath}, realEnv)
		if err != nil {
			t.Fatal(err)
		}
		c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("no network in tests")
		})}
		s, err := app.Start(context.Background(), c, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		resp, err := http.Get(s.URL + "/shops")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p shop.Page[shop.Shop]
		json.NewDecoder(resp.Body).Decode(&p)
		return p
	}
	if p := shops(); p.Total != 0 {
		t.Fatalf("real mode sells the demo catalogue: %+v", p)
	}
	importFile := func(body string) (int, string) {
		file := filepath.Join(dir, "catalogue.json")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := app.Main([]string{"catalogue", "import", "-db", dbPath, file}, realEnv, &out)
		return code, out.String()
	}
	if code, out := importFile(`{"shops":[{"id":5,"name":"真店","address":"真路 1 号","goods":[{"id":50,"name":"真茶","price_fen":0}]}]}`); code != 1 || !strings.Contains(out, "price_fen") {
		t.Fatalf("a bad catalogue: exit %d, %q", code, out)
	}
	if p := shops(); p.Total != 0 {
		t.Fatalf("a refused import wrote %+v", p)
	}
	code, out := importFile(`{"shops":[{"id":5,"name":"真店","address":"真路 1 号","goods":[{"id":50,"name":"真茶","price_fen":900}]}]}`)
	if code != 0 || !strings.Contains(out, "imported 1 shops and 1 goods into sqlite:"+dbPath) {
		t.Fatalf("import: exit %d, %q", code, out)
	}
	if p := shops(); p.Total != 1 || p.Items[0].Name != "真店" {
		t.Fatalf("after the import: %+v", p)
	}
	var usage bytes.Buffer
	if code := app.Main([]string{"catalogue"}, realEnv, &usage); code != 2 || !strings.Contains(usage.String(), "usage") {
		t.Errorf("no subcommand: exit %d, %q", code, usage.String())
	}
}
