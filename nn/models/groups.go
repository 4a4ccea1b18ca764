package models

import (
	"errors"
	"slices"
	"strings"

	"github.com/graftml/graft/nn"
)

// GroupsByResolution splits an imported model's trunk (s without the
// top-level children named in head) into layer groups by the spatial
// resolution its units end at, for inputs of shape (H, W, C), and appends
// head as the last group. Units are the top-level children, a Sequential
// of several children counting as its children.
func GroupsByResolution(s *nn.Sequential, shape []int, head []string) ([][]string, error) {
	sum, err := nn.Summarize(s, append([]int{1}, shape...))
	if err != nil {
		return nil, err
	}
	var units []string
	for _, c := range s.Children() {
		if slices.Contains(head, c.Name) {
			continue
		}
		if q, ok := c.Value.(*nn.Sequential); ok && q.Len() > 1 {
			for _, cc := range q.Children() {
				units = append(units, c.Name+"."+cc.Name)
			}
			continue
		}
		units = append(units, c.Name)
	}
	if len(units) == 0 {
		return nil, errors.New("no layers before the head")
	}
	res := func(u string) int { // the output height of a unit, −1 when flat
		h := -2
		for _, r := range sum.Layers {
			if r.Name == u || strings.HasPrefix(r.Name, u+".") {
				h = -1
				if len(r.OutShape) == 4 && r.OutShape[1]*r.OutShape[2] > 1 {
					h = r.OutShape[1] // pooled to 1×1 counts as flat
				}
			}
		}
		return h
	}
	var groups [][]string
	prev := -3
	for _, u := range units {
		h := res(u)
		if h == -2 { // runs nothing the summary saw: keep with the previous
			h = prev
		}
		if h == -1 && len(groups) > 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], u)
			continue
		}
		if h != prev || len(groups) == 0 {
			groups = append(groups, nil)
			prev = h
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], u)
	}
	if len(head) > 0 {
		groups = append(groups, head)
	}
	return groups, nil
}
