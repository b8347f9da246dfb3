package wire

// ValidName reports whether s is a v2 field name: a plain XML name of
// ASCII letters, digits, '_', '-' and '.', starting with a letter or '_'
// (so that the field also makes an element of an XML body). It is the one
// rule of the module: the root package's DecodeXML/EncodeXML and request
// Extra fields, the CLI's name=value input and wxpaytest's replies use it
// instead of a validName of their own.
func ValidName(s string) bool {
	if s == "" || !nameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !nameStart(c) && !('0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func nameStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
