// Package client is a small Go client of the example server's API, used
// by the walkthrough and the end-to-end tests. It is what a mini-program
// does, written in Go.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// Client calls one server as one user.
type Client struct {
	// Base is the server's URL, such as http://127.0.0.1:8080.
	Base string
	// HTTP sends the requests; nil means a client with a 15-second timeout.
	HTTP *http.Client
	// Token is the JWT sent as Authorization: Bearer, once logged in.
	Token string
}

// Error is a non-2xx answer in the API's error shape.
type Error struct {
	Status    int
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// Error returns a one-line description with the status, code and request id.
func (e *Error) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s (request %s)", e.Status, e.Code, e.Message, e.RequestID)
}

var defaultHTTP = &http.Client{Timeout: 15 * time.Second}

// Do sends a JSON request and decodes a 2xx JSON answer into out (unless
// nil). Other answers are returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error Error }
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: "http", Message: http.StatusText(resp.StatusCode)}
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// FakeLogin asks the fake WeChat for a wx.login code (fake mode only); an
// empty openID is a new user.
func (c *Client) FakeLogin(ctx context.Context, openID string) (code string, err error) {
	var out struct {
		Code string `json:"code"`
	}
	in := map[string]string{}
	if openID != "" {
		in["openid"] = openID
	}
	err = (&Client{Base: c.Base, HTTP: c.HTTP}).Do(ctx, "POST", "/fake/wxpaytest/login", nil, in, &out)
	return out.Code, err
}

// Login exchanges a wx.login code for a token and keeps it.
func (c *Client) Login(ctx context.Context, code string) (userID int64, err error) {
	var out struct {
		Token  string `json:"token"`
		UserID int64  `json:"user_id"`
	}
	if err := c.Do(ctx, "POST", "/users/wxLogin", nil, map[string]string{"code": code}, &out); err != nil {
		return 0, err
	}
	c.Token = out.Token
	return out.UserID, nil
}

// Shops lists a page of shops.
func (c *Client) Shops(ctx context.Context, page, limit int) (p shop.Page[shop.Shop], err error) {
	err = c.Do(ctx, "GET", "/shops?page="+strconv.Itoa(page)+"&limit="+strconv.Itoa(limit), nil, nil, &p)
	return p, err
}

// Goods lists a page of a shop's goods.
func (c *Client) Goods(ctx context.Context, shopID int64, page, limit int) (p shop.Page[shop.Goods], err error) {
	err = c.Do(ctx, "GET", fmt.Sprintf("/shops/%d/goods?page=%d&limit=%d", shopID, page, limit), nil, nil, &p)
	return p, err
}

// CreateOrder places an order; idemKey may be empty.
func (c *Client) CreateOrder(ctx context.Context, items []shop.Item, idemKey string) (o shop.Order, err error) {
	h := http.Header{}
	if idemKey != "" {
		h.Set("Idempotency-Key", idemKey)
	}
	err = c.Do(ctx, "POST", "/orders", h, map[string]any{"items": items}, &o)
	return o, err
}

// Order fetches one order.
func (c *Client) Order(ctx context.Context, id int64) (o shop.Order, err error) {
	err = c.Do(ctx, "GET", fmt.Sprintf("/orders/%d", id), nil, nil, &o)
	return o, err
}

// Orders lists a page of the user's orders.
func (c *Client) Orders(ctx context.Context, page, limit int) (p shop.Page[shop.Order], err error) {
	err = c.Do(ctx, "GET", fmt.Sprintf("/orders?page=%d&limit=%d", page, limit), nil, nil, &p)
	return p, err
}

// PayResult is the answer of POST /orders/{id}/pay.
type PayResult struct {
	OrderID    int64           `json:"order_id"`
	OutTradeNo string          `json:"out_trade_no"`
	Payment    json.RawMessage `json:"payment"` // wx.requestPayment's argument
}

// Pay asks for the wx.requestPayment arguments of an order.
func (c *Client) Pay(ctx context.Context, orderID int64) (r PayResult, err error) {
	err = c.Do(ctx, "POST", fmt.Sprintf("/orders/%d/pay", orderID), nil, nil, &r)
	return r, err
}

// FakeConfirm plays the user confirming wx.requestPayment on the fake
// WeChat (fake mode only). WeChat then notifies the server.
func (c *Client) FakeConfirm(ctx context.Context, payment json.RawMessage) (transactionID string, err error) {
	var out struct {
		Result        string `json:"result"`
		TransactionID string `json:"transaction_id"`
	}
	err = (&Client{Base: c.Base, HTTP: c.HTTP}).Do(ctx, "POST", "/fake/wxpaytest/pay", nil, payment, &out)
	return out.TransactionID, err
}
