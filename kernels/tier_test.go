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

func TestUseStandIns(t *testing.T) {
	before, beforeSI := Current(), StandIns()
	ok, why := StandInsSupported(AVX512)
	restore, err := UseStandIns(AVX512)
	if ok != (err == nil) {
		t.Fatalf("UseStandIns(avx512) error %v but StandInsSupported says %v (%s)", err, ok, why)
	}
	if err == nil {
		if Current() != AVX512 || !StandIns() {
			t.Fatalf("after UseStandIns(avx512): %s, stand-ins %v", Current(), StandIns())
		}
		r2, err := Use(Generic)
		if err != nil || StandIns() || Current() != Generic {
			t.Fatalf("Use(generic) under stand-ins: %v, %s, stand-ins %v", err, Current(), StandIns())
		}
		r2()
		if !StandIns() {
			t.Fatal("restore of Use lost the stand-ins")
		}
		restore()
	}
	if Current() != before || StandIns() != beforeSI {
		t.Fatalf("restore left %s (stand-ins %v)", Current(), StandIns())
	}
	if _, err := UseStandIns(AVX2); err == nil {
		t.Fatal("UseStandIns(avx2) succeeded; avx2 has no stand-ins")
	}
	names := map[string]bool{}
	for _, tt := range TestTiers() {
		names[tt.String()] = true
		if real, _ := Supported(tt.Tier); !tt.StandIns && !real {
			t.Errorf("TestTiers lists %s, which this CPU cannot run", tt)
		}
	}
	if sup, _ := Supported(AVX512); !sup && ok && !names["avx512-standins"] {
		t.Errorf("TestTiers = %v: no avx512 stand-ins on a machine without AVX-512", names)
	}
}
