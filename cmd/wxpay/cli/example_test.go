package cli_test

import (
	"context"
	"os"
	"strings"

	"github.com/wxpay-go/wxpay/cmd/wxpay/cli"
)

// Sign the fields of WeChat's own signing example with its published key:
// the canonical string shows the key as ***, and the sign is the one in
// WeChat's documentation (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3).
func ExampleRun_sign() {
	env := map[string]string{"WXPAY_API_KEY": "192006250b4c09247ec02edce69f6a2d"}
	msg := strings.NewReader(`appid=wxd930ea5d5a258f4f
mch_id=10000100
device_info=1000
body=test
nonce_str=ibuaiVcKdpRxkhJA
`)
	code := cli.Run(context.Background(), []string{"sign"}, func(k string) string { return env[k] }, msg, os.Stdout, os.Stderr)
	if code != cli.ExitOK {
		panic(code)
	}
	// Output:
	// sign type: MD5
	// canonical: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***
	// sign:      9A0A8659F005D6984697E2CA0A9CF3B7
}

// Verify a payment notification signed with HMAC-SHA256 (WeChat omits
// sign_type from notifications) while the merchant is configured for MD5:
// the tool names the check that failed and the fix.
func ExampleRun_verify() {
	env := map[string]string{"WXPAY_API_KEY": "192006250b4c09247ec02edce69f6a2d"}
	msg := strings.NewReader(`appid=wxd930ea5d5a258f4f
body=test
device_info=1000
mch_id=10000100
nonce_str=ibuaiVcKdpRxkhJA
sign=6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6
`)
	code := cli.Run(context.Background(), []string{"verify"}, func(k string) string { return env[k] }, msg, os.Stdout, os.Stderr)
	os.Stdout.WriteString("exit status " + string(rune('0'+code)) + "\n")
	// Output:
	// sign type: MD5 (configured)
	// canonical: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***
	// sign:      6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6
	// expected:  9A0A8659F005D6984697E2CA0A9CF3B7
	// FAILED (length): the sign has 64 hex digits: signed with HMAC-SHA256 while you configured MD5
	// likely cause: it verifies with HMAC-SHA256 under your key: set WXPAY_SIGN_TYPE=HMAC-SHA256 (WeChat signs a notification with the algorithm of the order, without sign_type)
	// exit status 1
}
