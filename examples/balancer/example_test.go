package balancer_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/wxpay-go/wxpay/examples/balancer"
)

// Two instances behind one balancer: requests alternate between them.
func Example() {
	instance := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s served %s", name, r.URL.Path)
		}))
	}
	a, b := instance("a"), instance("b")
	defer a.Close()
	defer b.Close()
	lb, err := balancer.New("", a.URL, b.URL)
	if err != nil {
		panic(err)
	}
	front := httptest.NewServer(lb)
	defer front.Close()
	for range 3 {
		resp, err := http.Get(front.URL + "/shops")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// a served /shops
	// b served /shops
	// a served /shops
}
