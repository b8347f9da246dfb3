// Command server runs the example order-and-pay backend. With no
// configuration it runs in fake mode on 127.0.0.1:8080: see ../README.md.
package main

import (
	"os"

	"github.com/wxpay-go/wxpay/examples/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Getenv, os.Stderr))
}
