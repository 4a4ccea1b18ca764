package main

import (
	"fmt"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// loadFolder reads a folder of class sub-folders of images into the base
// model's input shape and normalisation.
func loadFolder(dir string, base *models.Model, meta nn.Meta) (*data.Set, error) {
	return nil, fmt.Errorf("image folders are not supported yet (%s)", dir)
}
