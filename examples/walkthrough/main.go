// Command walkthrough drives a running example server (in fake mode)
// through login, shops, goods, an order, payment and the notification,
// printing each step:
//
//	go -C examples run ./server          # terminal 1
//	go -C examples run ./walkthrough     # terminal 2
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/wxpay-go/wxpay/examples/client"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the server's URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := client.Walkthrough(ctx, &client.Client{Base: *base}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "walkthrough:", err)
		os.Exit(1)
	}
}
