package wxpay_test

import (
	"errors"
	"fmt"

	"github.com/wxpay-go/wxpay"
)

// The official worked example of the v2 signing rules (WeChat Pay docs,
// 安全规范 chapter 4_3), signed with both algorithms.
func ExampleSigner_Sign() {
	p := wxpay.Params{
		"appid":       "wxd930ea5d5a258f4f",
		"mch_id":      "10000100",
		"device_info": "1000",
		"body":        "test",
		"nonce_str":   "ibuaiVcKdpRxkhJA",
	}
	md5Signer, err := wxpay.NewSigner("192006250b4c09247ec02edce69f6a2d", wxpay.SignMD5)
	if err != nil {
		panic(err)
	}
	hmacSigner, err := wxpay.NewSigner("192006250b4c09247ec02edce69f6a2d", wxpay.SignHMACSHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println(md5Signer.Sign(p))
	fmt.Println(hmacSigner.Sign(p))
	// Output:
	// 9A0A8659F005D6984697E2CA0A9CF3B7
	// 6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6
}

// Verifying the official example as it arrives on the wire, then the same
// message with its body changed.
func ExampleSigner_Verify() {
	body := []byte(`<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>`)
	s, err := wxpay.NewSigner("192006250b4c09247ec02edce69f6a2d", wxpay.SignMD5)
	if err != nil {
		panic(err)
	}
	p, err := wxpay.DecodeXML(body)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Verify(p))

	p["body"] = "test2"
	err = s.Verify(p)
	fmt.Println(err, errors.Is(err, wxpay.ErrSignature))
	// Output:
	// <nil>
	// wxpay: signature mismatch true
}

// DecodeXML refuses anything but a flat WeChat message; here, an XXE
// attempt.
func ExampleDecodeXML() {
	_, err := wxpay.DecodeXML([]byte(`<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>`))
	var xe *wxpay.XMLError
	if errors.As(err, &xe) {
		fmt.Println(xe.Reason)
	}
	p, err := wxpay.DecodeXML([]byte(`<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>100</total_fee></xml>`))
	fmt.Println(p["return_code"], p["total_fee"], err)
	// Output:
	// DOCTYPE or entity declaration not allowed
	// SUCCESS 100 <nil>
}

// EncodeXML writes sorted, escaped fields that any XML parser reads back.
func ExampleEncodeXML() {
	b, err := wxpay.EncodeXML(wxpay.Params{"body": "A&B <tea>", "total_fee": "1"})
	fmt.Println(string(b), err)
	// Output:
	// <xml><body>A&amp;B &lt;tea&gt;</body><total_fee>1</total_fee></xml> <nil>
}
