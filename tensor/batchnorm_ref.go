package tensor

import (
	"math"
)

// BatchNormInference computes y = gamma·(x − mean)/sqrt(var + eps) + beta
// per channel (the last dimension) from the running statistics (then
// max(y, 0) with p.ReLU); p's other fields are unused.
func (Reference) BatchNormInference(y, x, gamma, beta, mean, variance *Tensor, p BatchNormParams) {
	hostOnly(y, x, gamma, beta, mean, variance)
	batchNormInference(y, x, gamma, beta, mean, variance, p)
}

func batchNormInference(y, x, gamma, beta, mean, variance *Tensor, p BatchNormParams) {
	mustSameShape("BatchNormInference", y, x)
	rows, c := bnDims("BatchNormInference", x, gamma, beta, mean, variance)
	scale, shift := make([]float32, c), make([]float32, c)
	for j := 0; j < c; j++ {
		inv := 1 / math.Sqrt(float64(variance.data[j])+float64(p.Eps))
		scale[j] = float32(float64(gamma.data[j]) * inv)
		shift[j] = float32(float64(beta.data[j]) - float64(gamma.data[j])*inv*float64(mean.data[j]))
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			v := x.data[r*c+j]*scale[j] + shift[j]
			if p.ReLU && v < 0 {
				v = 0
			}
			y.data[r*c+j] = v
		}
	}
}

// BatchNormTrain normalises x with its batch statistics per channel (mean
// and biased variance over every row), writes y = gamma·x̂ + beta, saves the
// batch mean and 1/sqrt(var + eps) for the backward pass, and, unless
// runMean is nil, updates the running statistics.
func (Reference) BatchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams) {
	hostOnly(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	batchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, p)
}

func batchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams) {
	mustSameShape("BatchNormTrain", y, x)
	rows, c := bnDims("BatchNormTrain", x, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	sum, sq := make([]float64, c), make([]float64, c)
	for r := 0; r < rows; r++ {
		for j, v := range x.data[r*c : (r+1)*c] {
			sum[j] += float64(v)
		}
	}
	for j := range sum {
		sum[j] /= float64(max(rows, 1))
	}
	for r := 0; r < rows; r++ {
		for j, v := range x.data[r*c : (r+1)*c] {
			d := float64(v) - sum[j]
			sq[j] += d * d
		}
	}
	for j := 0; j < c; j++ {
		v := sq[j] / float64(max(rows, 1))
		saveMean.data[j] = float32(sum[j])
		saveInvStd.data[j] = float32(1 / math.Sqrt(v+float64(p.Eps)))
		if runMean != nil {
			uv := v
			if p.UnbiasedVar && rows > 1 {
				uv = sq[j] / float64(rows-1)
			}
			m := float64(p.Momentum)
			runMean.data[j] = float32((1-m)*float64(runMean.data[j]) + m*sum[j])
			runVar.data[j] = float32((1-m)*float64(runVar.data[j]) + m*uv)
		}
	}
	for r := 0; r < rows; r++ {
		for j, v := range x.data[r*c : (r+1)*c] {
			xh := (float64(v) - sum[j]) * float64(saveInvStd.data[j])
			o := float32(float64(gamma.data[j])*xh + float64(beta.data[j]))
			if p.ReLU && o < 0 {
				o = 0
			}
			y.data[r*c+j] = o
		}
	}
}

// BatchNormBackward computes, from the saved batch statistics, dx =
// gamma·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)) and the parameter gradients
// dgamma = Σ dy·x̂, dbeta = Σ dy (sums over rows).
func (Reference) BatchNormBackward(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd *Tensor) {
	hostOnly(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd)
	batchNormBackward(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd)
}

func batchNormBackward(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd *Tensor) {
	if dx != nil {
		mustSameShape("BatchNormBackward", dx, x, dy)
	} else {
		mustSameShape("BatchNormBackward", x, dy)
	}
	rows, c := bnDims("BatchNormBackward", x, dgamma, dbeta, gamma, saveMean, saveInvStd)
	sdy, sdyx := make([]float64, c), make([]float64, c)
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			d := float64(dy.data[r*c+j])
			xh := (float64(x.data[r*c+j]) - float64(saveMean.data[j])) * float64(saveInvStd.data[j])
			sdy[j] += d
			sdyx[j] += d * xh
		}
	}
	for j := 0; j < c; j++ {
		dgamma.data[j] = float32(sdyx[j])
		dbeta.data[j] = float32(sdy[j])
	}
	if dx == nil {
		return
	}
	n := float64(max(rows, 1))
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			inv := float64(saveInvStd.data[j])
			xh := (float64(x.data[r*c+j]) - float64(saveMean.data[j])) * inv
			dx.data[r*c+j] = float32(float64(gamma.data[j]) * inv * (float64(dy.data[r*c+j]) - sdy[j]/n - xh*sdyx[j]/n))
		}
	}
}
