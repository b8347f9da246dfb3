// Command wxpay is a tool for WeChat Pay merchants: it signs and verifies
// API v2 and v3 messages by hand (saying which check failed and why),
// decrypts refund notifications and v3 notification resources, runs the
// fake WeChat Pay server standalone, sends
// signed notifications to a local server as WeChat would, and checks a
// merchant configuration.
//
// Install it with
//
//	go install github.com/wxpay-go/wxpay/cmd/wxpay@latest
//
// and run "wxpay -h" for the commands. Merchant settings come from the
// environment (WXPAY_APPID, WXPAY_MCHID, WXPAY_API_KEY, WXPAY_APIV3_KEY, ...)
// or a -config file, never from flags. The logic lives in package
// github.com/wxpay-go/wxpay/cmd/wxpay/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
