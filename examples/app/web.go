package app

import (
	"net/http"

	"github.com/wxpay-go/wxpay/examples/app/web"
)

// addWeb mounts the browser demo (package web) among the extra routes.
// Only fake mode calls it: the page confirms payments with the fake
// WeChat, and a real server has no business serving a pretend phone.
func addWeb(extra map[string]http.Handler) {
	for pattern, h := range web.Routes() {
		extra[pattern] = h
	}
}
