package kernels

import (
	"strings"
	"testing"
)

func TestParseTier(t *testing.T) {
	for _, tier := range Tiers {
		got, err := ParseTier(strings.ToUpper(tier.String()))
		if err != nil || got != tier {
			t.Errorf("ParseTier(%q) = %v, %v", tier, got, err)
		}
	}
	if _, err := ParseTier("sse9"); err == nil || !strings.Contains(err.Error(), `"sse9"`) {
		t.Errorf("ParseTier(sse9) error = %v", err)
	}
}

func TestUseSwitchesAndRestores(t *testing.T) {
	before := Current()
	for _, tier := range Tiers {
		ok, why := Supported(tier)
		restore, err := Use(tier)
		if ok != (err == nil) {
			t.Fatalf("Use(%s) error %v but Supported says %v (%s)", tier, err, ok, why)
		}
		if err != nil {
			if !strings.Contains(err.Error(), tier.String()) || Current() != before {
				t.Fatalf("Use(%s) failed with %v and left %s", tier, err, Current())
			}
			continue
		}
		if Current() != tier {
			t.Fatalf("after Use(%s), Current() = %s", tier, Current())
		}
		restore()
		if Current() != before {
			t.Fatalf("restore left %s, want %s", Current(), before)
		}
	}
}

func TestChooseFromEnv(t *testing.T) {
	best := Best()
	if got, _ := choose(""); got != best {
		t.Errorf("choose(\"\") = %s, want best %s", got, best)
	}
	if got, why := choose("generic"); got != Generic || why != "GRAFT_CPU=generic" {
		t.Errorf("choose(generic) = %s (%s)", got, why)
	}
	if got, why := choose("bogus"); got != best || !strings.Contains(why, "not a tier") {
		t.Errorf("choose(bogus) = %s (%s)", got, why)
	}
	for _, tier := range Tiers {
		if ok, _ := Supported(tier); !ok {
			got, why := choose(tier.String())
			if got != best || !strings.Contains(why, "asked, but") {
				t.Errorf("choose(%s) on a machine without it = %s (%s)", tier, got, why)
			}
		}
	}
}

func TestAvailableIsOrderedAndIncludesGeneric(t *testing.T) {
	av := Available()
	if len(av) == 0 || av[0] != Generic || av[len(av)-1] != Best() {
		t.Fatalf("Available() = %v, Best() = %s", av, Best())
	}
}

func TestCacheSizesPositive(t *testing.T) {
	c := CacheSizes()
	if c.L1D <= 0 || c.L2 <= 0 || c.L3 <= 0 {
		t.Fatalf("CacheSizes() = %+v", c)
	}
}
