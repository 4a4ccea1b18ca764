package tensor

// Both backends implement the whole interface.
var (
	_ Backend = CPU{}
	_ Backend = Reference{}
)
