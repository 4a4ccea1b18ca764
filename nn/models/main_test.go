package models

import (
	"testing"

	"github.com/graftml/graft/internal/testmain"
)

func TestMain(m *testing.M) { testmain.CPUByDefault(m) }
