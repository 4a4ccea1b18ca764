package data_test

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/graftml/graft/data"
)

// ExampleLoadIDX writes two tiny IDX files (three 2×2 images and their
// labels), loads them, and splits the result.
func ExampleLoadIDX() {
	dir, err := os.MkdirTemp("", "idx-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	be := binary.BigEndian
	images := be.AppendUint32(nil, 0x00000803) // magic: unsigned bytes, 3 dimensions
	images = be.AppendUint32(images, 4)        // images
	images = be.AppendUint32(images, 2)        // rows
	images = be.AppendUint32(images, 2)        // columns
	images = append(images, 0, 255, 0, 255, 255, 255, 0, 0, 51, 102, 153, 204, 0, 0, 0, 0)
	labels := be.AppendUint32(nil, 0x00000801) // magic: unsigned bytes, 1 dimension
	labels = be.AppendUint32(labels, 4)
	labels = append(labels, 1, 0, 1, 0)
	ip, lp := filepath.Join(dir, "images.idx"), filepath.Join(dir, "labels.idx")
	if err := os.WriteFile(ip, images, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(lp, labels, 0o644); err != nil {
		log.Fatal(err)
	}

	set, err := data.LoadIDX(ip, lp, []string{"dark", "light"}, 0.5, 0.5)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("examples:", set.Len(), "shape:", set.ExampleShape(), "classes:", set.Classes)
	fmt.Println("first image:", set.X[:4])
	fmt.Println("counts:", set.Counts())

	parts, err := set.Split(1, 0.5, 0.5) // stratified: one of each class per half
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("split counts:", parts[0].Counts(), parts[1].Counts())

	// Load a batch the way a training loop does.
	x := make([]float32, 2*4)
	y := make([]int, 2)
	if err := set.Load(x, y, []int{2, 0}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("batch labels:", y)
	// Output:
	// examples: 4 shape: [2 2 1] classes: [dark light]
	// first image: [-1 1 -1 1]
	// counts: [2 2]
	// split counts: [1 1] [1 1]
	// batch labels: [1 1]
}

// ExampleLoadFolder writes a folder in torchvision's ImageFolder layout
// (a sub-folder of PNG images per class, and a stray text file), loads it
// as 8×8 grey examples, and splits it 80/20 as graft train does.
func ExampleLoadFolder() {
	dir, err := os.MkdirTemp("", "shapes")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for c, class := range []string{"bar", "dash"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			log.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			img := image.NewGray(image.Rect(0, 0, 16, 16))
			for j := 4; j < 12; j++ {
				if c == 0 {
					img.SetGray(6+i%3, j, color.Gray{Y: 255})
				} else {
					img.SetGray(j, 6+i%3, color.Gray{Y: 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, class, fmt.Sprintf("%d.png", i)))
			if err != nil {
				log.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				log.Fatal(err)
			}
			f.Close()
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bar", "notes.txt"), []byte("not an image"), 0o644); err != nil {
		log.Fatal(err)
	}
	s, warnings, err := data.LoadFolder(dir, data.FolderOptions{Size: 8, Grey: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Len(), "images of", s.Classes, "each", s.ExampleShape(), "with", len(warnings), "warning")
	parts, err := s.Split(1, 0.8, 0.2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("train", parts[0].Len(), "test", parts[1].Len())
	// Output:
	// 10 images of [bar dash] each [8 8 1] with 1 warning
	// train 8 test 2
}
