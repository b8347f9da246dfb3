package wxpay

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchServer answers every request on loopback with one prebuilt, signed
// unifiedorder answer, so the benchmarks measure the client side.
func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	reply := signedXML(b, testKey, SignMD5,
		okAnswer(Params{"prepay_id": "wx201410272009395522657a690389285100", "trade_type": "JSAPI"}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(reply)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkUnifiedOrder is a full call: validate, sign, encode, POST,
// read, decode, verify the answer's signature and map it.
func BenchmarkUnifiedOrder(b *testing.B) {
	srv := benchServer(b)
	c, err := NewClient(testConfig(), WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	req := validOrder()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.UnifiedOrder(ctx, req)
		if err != nil || resp.PrepayID == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnifiedOrderFloor is the least any client must do for the same
// exchange: POST a prebuilt body of the same size with the same
// http.Client and read the whole answer. BenchmarkUnifiedOrder should stay
// within 1.5x of it.
func BenchmarkUnifiedOrderFloor(b *testing.B) {
	srv := benchServer(b)
	c, err := NewClient(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	body := signedOrderBody(b, c)
	hc := srv.Client()
	url := srv.URL + epUnifiedOrder.path
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

// signedOrderBody is the signed unifiedorder body of validOrder, as the
// client would send it: what the floors post without the client.
func signedOrderBody(tb testing.TB, c *Client) []byte {
	tb.Helper()
	q, err := c.unifiedOrderRequest(validOrder())
	if err != nil {
		tb.Fatal(err)
	}
	body, err := c.encode(q)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}
