package app_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wxpay-go/wxpay/examples/app"
	"github.com/wxpay-go/wxpay/examples/client"
)

// Start runs the whole server in-process, here in fake mode on a free
// loopback port with a scratch database, and Close stops it.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(dir, "shop.db")}, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	c := &client.Client{Base: s.URL}
	shops, err := c.Shops(context.Background(), 1, 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, sh := range shops.Items {
		fmt.Println(sh.ID, sh.Name)
	}
	// Output:
	// 1 街角咖啡
	// 2 老王面馆
	// 3 小林书店
}
