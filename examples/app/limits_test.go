package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// callsTo is how many calls the server made to a WeChat path.
func (w *wechatRecorder) callsTo(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[path]
}

// allowedIn is the most calls a rate lets through in d: its burst, one
// per Every, and one for the call in flight when d is measured.
func allowedIn(r shop.Rate, d time.Duration) int { return r.Burst + int(d/r.Every) + 1 }

// post sends body to path on h's server from hc and returns the status,
// the error code and Retry-After.
func post(t *testing.T, hc *http.Client, url, token, body string) (int, shop.Code, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.ErrorBody
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After")
}

// checkTooMany checks a 429: too_many_requests, with a Retry-After of
// whole seconds from 1 to max.
func checkTooMany(t *testing.T, status int, code shop.Code, retry string, maxWait time.Duration) {
	t.Helper()
	n, err := strconv.Atoi(retry)
	if status != 429 || code != shop.CodeTooMany || err != nil || n < 1 || time.Duration(n)*time.Second > maxWait+time.Second {
		t.Errorf("refused call: %d %s Retry-After %q; want 429 too_many_requests, Retry-After 1 to %v", status, code, retry, maxWait)
	}
}

// TestLoginMetered: a burst of made-up login codes from one address costs
// at most the per-address limit's number of code2session calls (counted
// at the fake), and the rest get 429 with Retry-After; malformed codes
// cost none at all.
func TestLoginMetered(t *testing.T) {
	h := newHarness(t)
	const path = "/sns/jscode2session"
	for _, code := range []string{"", "short", "has space 0123", "quote'0123456", "semi;colon;0123", "nul\\u0000abcdefgh",
		"中文登录码中文登录码", strings.Repeat("a", shop.MaxLoginCode+1), "percent%20abcdef", "plus+slash/0="} {
		body, _ := json.Marshal(api.LoginRequest{Code: code})
		if status, ec, _ := post(t, h.http, h.s.URL+"/users/wxLogin", "", string(body)); status != 400 || ec != shop.CodeInvalid {
			t.Errorf("malformed code %q: %d %s, want 400 invalid_request", code, status, ec)
		}
	}
	if n := h.wx.callsTo(path); n != 0 {
		t.Fatalf("malformed codes made %d code2session calls, want 0", n)
	}

	const burst = 1500
	start := time.Now()
	var refused, refusedByWeChat atomic.Int64
	var wg sync.WaitGroup
	codes := make(chan string)
	for range 8 {
		wg.Go(func() {
			for code := range codes {
				status, ec, retry := post(t, h.http, h.s.URL+"/users/wxLogin", "", `{"code":"`+code+`"}`)
				switch status {
				case 401:
					refusedByWeChat.Add(1)
				case 429:
					refused.Add(1)
					checkTooMany(t, status, ec, retry, api.DefaultLimits.LoginPerAddress.Every)
				default:
					t.Errorf("made-up code: %d %s", status, ec)
				}
			}
		})
	}
	for range burst {
		codes <- randomString(32)
	}
	close(codes)
	wg.Wait()
	elapsed := time.Since(start)
	calls := h.wx.callsTo(path)
	if max := allowedIn(api.DefaultLimits.LoginPerAddress, elapsed); calls > max || calls < api.DefaultLimits.LoginPerAddress.Burst {
		t.Errorf("%d made-up codes in %v made %d code2session calls; the limit allows %d (and at least its burst of %d)",
			burst, elapsed, calls, max, api.DefaultLimits.LoginPerAddress.Burst)
	}
	if int(refusedByWeChat.Load()) != calls || int(refused.Load())+calls != burst {
		t.Errorf("%d refused by WeChat, %d by the limit, %d calls: every code was either sent or refused", refusedByWeChat.Load(), refused.Load(), calls)
	}
	t.Logf("%d made-up codes in %v: %d code2session calls, %d answered 429", burst, elapsed, calls, refused.Load())
}

// TestLoginMeteredGlobally: codes from many addresses, each within its
// own address's limit, still cost at most the global limit's number of
// code2session calls. The addresses are 127.0.0.2 and up, which
// loopback serves on Linux.
func TestLoginMeteredGlobally(t *testing.T) {
	h := newHarness(t)
	const addrs, each = 200, 10 // 2000 codes; each address within its burst of 30
	if probe, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).Dial("tcp", strings.TrimPrefix(h.s.URL, "http://")); err != nil {
		t.Skipf("cannot dial from 127.0.0.2 (loopback serves only 127.0.0.1 here): %v", err)
	} else {
		probe.Close()
	}
	before := h.wx.callsTo("/sns/jscode2session") // the harness's own logins
	start := time.Now()
	var refused atomic.Int64
	var wg sync.WaitGroup
	for a := range addrs {
		wg.Go(func() {
			ip := net.IPv4(127, 0, byte(1+(a+1)/250), byte(2+(a+1)%250))
			tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			for range each {
				status, ec, retry := post(t, hc, h.s.URL+"/users/wxLogin", "", `{"code":"`+randomString(32)+`"}`)
				if status == 429 {
					refused.Add(1)
					checkTooMany(t, status, ec, retry, api.DefaultLimits.LoginGlobal.Every)
				} else if status != 401 {
					t.Errorf("made-up code from %s: %d %s", ip, status, ec)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	calls := h.wx.callsTo("/sns/jscode2session") - before
	if max := allowedIn(api.DefaultLimits.LoginGlobal, elapsed); calls > max || refused.Load() == 0 {
		t.Errorf("%d codes from %d addresses in %v made %d code2session calls (%d refused); the global limit allows %d",
			addrs*each, addrs, elapsed, calls, refused.Load(), max)
	}
	t.Logf("%d codes from %d addresses in %v: %d code2session calls, %d answered 429", addrs*each, addrs, elapsed, calls, refused.Load())
}

// TestUserMetered: one user's orders and pay calls are metered (429 with
// Retry-After past the limit, and nothing written or sent for a refused
// call), and polling many unpaid orders costs at most the user's budget
// of orderquery calls, however many orders there are.
func TestUserMetered(t *testing.T) {
	// Reconciliation would query on its own after QueryAfter: keep it
	// out of the count.
	h := newHarnessTiming(t, shop.Timing{PayWindow: 6 * time.Minute, QueryAfter: time.Hour})
	ctx := context.Background()
	u := h.user()
	start := time.Now()
	var ids []int64
	for range 100 {
		status, ec, retry := post(t, h.http, h.s.URL+"/orders", u.Token, `{"items":[{"goods_id":101,"count":1}]}`)
		switch status {
		case 201:
		case 429:
			checkTooMany(t, status, ec, retry, api.DefaultLimits.OrdersPerUser.Every)
		default:
			t.Fatalf("order: %d %s", status, ec)
		}
	}
	placed := h.count(`SELECT COUNT(*) FROM orders`)
	if max := allowedIn(api.DefaultLimits.OrdersPerUser, time.Since(start)); placed > max || placed < api.DefaultLimits.OrdersPerUser.Burst {
		t.Errorf("100 orders at once placed %d; the limit allows %d", placed, max)
	}
	other := h.user()
	if _, err := other.CreateOrder(ctx, []shop.Item{{GoodsID: 101, Count: 1}}, ""); err != nil {
		t.Errorf("another user's order: %v", err)
	}
	rows, err := h.db.Query(`SELECT id FROM orders WHERE user_id = (SELECT user_id FROM orders GROUP BY user_id ORDER BY COUNT(*) DESC LIMIT 1)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()

	// Pay calls: each may be a unifiedorder call.
	start = time.Now()
	paid := 0
	for i := range 60 {
		status, ec, retry := post(t, h.http, h.s.URL+fmt.Sprintf("/orders/%d/pay", ids[i%len(ids)]), u.Token, ``)
		switch status {
		case 200:
			paid++
		case 429:
			checkTooMany(t, status, ec, retry, api.DefaultLimits.PayPerUser.Every)
		default:
			t.Fatalf("pay: %d %s", status, ec)
		}
	}
	if max := allowedIn(api.DefaultLimits.PayPerUser, time.Since(start)); paid > max || paid < api.DefaultLimits.PayPerUser.Burst {
		t.Errorf("60 pay calls got %d through; the limit allows %d", paid, max)
	}
	if n := h.wx.callsTo("/pay/unifiedorder"); n > paid {
		t.Errorf("%d unifiedorder calls for %d pay calls let through", n, paid)
	}

	// Polling: every order with a prepay, three times over.
	start = time.Now()
	for range 3 {
		for _, id := range ids {
			if _, err := u.Order(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	queries := h.wx.callsTo("/pay/orderquery")
	if max := allowedIn(shop.UserQueryRate, time.Since(start)); queries > max {
		t.Errorf("polling %d orders 3 times made %d orderquery calls; the user's budget allows %d", len(ids), queries, max)
	}
	t.Logf("orders %d of 100, pay calls %d of 60, orderquery calls %d for %d polls", placed, paid, queries, 3*len(ids))
}

// TestUnmeteredRefusedInRealMode: the load-test switch never lifts the
// limits of a server whose calls cost real WeChat quota.
func TestUnmeteredRefusedInRealMode(t *testing.T) {
	c, err := app.ParseConfig([]string{"-addr", "127.0.0.1:0", "-db", t.TempDir() + "/x.db", "-unmetered"}, env(map[string]string{
		"WXPAY_APPID": realMerchant.AppID, "WXPAY_MCHID": realMerchant.MchID, "WXPAY_API_KEY": realMerchant.APIKey,
		"WX_APP_SECRET": realMerchant.AppSecret, "PUBLIC_URL": "https://shop.example.com", "JWT_SECRET": testJWTSecret,
	}))
	if err != nil || !c.Unmetered {
		t.Fatalf("ParseConfig: %+v, %v", c, err)
	}
	if s, err := app.Start(context.Background(), c, &syncBuf{}); err == nil || !strings.Contains(err.Error(), "-unmetered") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("real mode with -unmetered: %v, want a refusal naming -unmetered", err)
	}
}
