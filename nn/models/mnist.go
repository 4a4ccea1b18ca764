package models

import (
	"github.com/graftml/graft/nn"
)

// LeNet5 is LeCun's LeNet-5 with ReLU and max pooling on 28×28 inputs:
// conv1 1→6 5×5 pad 2, ReLU, maxpool 2; conv2 6→16 5×5, ReLU, maxpool 2;
// fc1 400→120, ReLU; fc2 120→84, ReLU; fc3 84→classes. Groups: conv1,
// conv2, fc1+fc2, head fc3.
func LeNet5(o Options) *Model {
	o = defaults(o, 10, 1, 28)
	s := &seeds{base: o.Seed}
	side := ((o.Size)/2 - 4) / 2
	net := nn.NewSequential()
	net.Add("conv1", nn.NewConv2D(o.InChans, 6, 5, nn.ConvOpts{Padding: 2, Bias: true}, s.next())).
		Add("relu1", nn.ReLU()).Add("pool1", nn.NewMaxPool2D(2, 2, 0)).
		Add("conv2", nn.NewConv2D(6, 16, 5, nn.ConvOpts{Bias: true}, s.next())).
		Add("relu2", nn.ReLU()).Add("pool2", nn.NewMaxPool2D(2, 2, 0)).
		Add("flatten", nn.NewFlatten()).
		Add("fc1", nn.NewDense(16*side*side, 120, true, s.next())).Add("relu3", nn.ReLU()).
		Add("fc2", nn.NewDense(120, 84, true, s.next())).Add("relu4", nn.ReLU()).
		Add("fc3", nn.NewDense(84, o.Classes, true, s.next()))
	return &Model{Sequential: net, Arch: "lenet5", Options: o, InputShape: []int{o.Size, o.Size, o.InChans},
		Head:   []string{"fc3"},
		Groups: [][]string{{"conv1"}, {"conv2"}, {"fc1", "fc2"}, {"fc3"}}}
}

// MNISTCNN is the classic two-convolution MNIST network: conv1 1→32 5×5
// pad 2, ReLU, maxpool 2; conv2 32→64 5×5 pad 2, ReLU, maxpool 2; fc1
// 3136→128, ReLU; fc2 128→classes. Groups: conv1, conv2, fc1, head fc2.
func MNISTCNN(o Options) *Model {
	o = defaults(o, 10, 1, 28)
	s := &seeds{base: o.Seed}
	side := o.Size / 4
	net := nn.NewSequential()
	net.Add("conv1", nn.NewConv2D(o.InChans, 32, 5, nn.ConvOpts{Padding: 2, Bias: true}, s.next())).
		Add("relu1", nn.ReLU()).Add("pool1", nn.NewMaxPool2D(2, 2, 0)).
		Add("conv2", nn.NewConv2D(32, 64, 5, nn.ConvOpts{Padding: 2, Bias: true}, s.next())).
		Add("relu2", nn.ReLU()).Add("pool2", nn.NewMaxPool2D(2, 2, 0)).
		Add("flatten", nn.NewFlatten()).
		Add("fc1", nn.NewDense(64*side*side, 128, true, s.next())).Add("relu3", nn.ReLU()).
		Add("fc2", nn.NewDense(128, o.Classes, true, s.next()))
	return &Model{Sequential: net, Arch: "mnistcnn", Options: o, InputShape: []int{o.Size, o.Size, o.InChans},
		Head:   []string{"fc2"},
		Groups: [][]string{{"conv1"}, {"conv2"}, {"fc1"}, {"fc2"}}}
}
