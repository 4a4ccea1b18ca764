package data

import (
	"fmt"
)

// FileError reports a problem with a data file: the file, the 1-based line
// for text formats (0 when it does not apply) and what is wrong.
type FileError struct {
	Path string // the file, as given to the loader
	Line int    // 1-based line number for CSV files; 0 for binary files
	Err  error  // what is wrong
}

// Error formats the error as "data: file PATH[: line N]: problem".
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("data: file %s: line %d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("data: file %s: %v", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// fileErr builds a *FileError for path with a formatted message.
func fileErr(path string, format string, args ...any) error {
	return &FileError{Path: path, Err: fmt.Errorf(format, args...)}
}

// lineErr builds a *FileError for path and line with a formatted message.
func lineErr(path string, line int, format string, args ...any) error {
	return &FileError{Path: path, Line: line, Err: fmt.Errorf(format, args...)}
}
