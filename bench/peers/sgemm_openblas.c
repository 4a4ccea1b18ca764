// Times OpenBLAS cblas_sgemm (row-major, no transposes, beta = 0) on the
// shapes of graft's BenchmarkSgemm and prints one line per shape:
//   shape=MxNxK gflops=G
// Usage: sgemm_openblas [reps-per-shape] (threads: OPENBLAS_NUM_THREADS).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
	int shapes[][3] = {{64, 64, 64}, {128, 128, 128}, {256, 256, 256}, {512, 512, 512},
		{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096},
		{64, 3136, 576}, {128, 784, 1152}, {256, 196, 2304}, {512, 49, 4608}};
	double budget = argc > 1 ? atof(argv[1]) : 1.0; // seconds per shape
	int maxdim = argc > 2 ? atoi(argv[2]) : 1 << 30;
	for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
		if (m == n && m > maxdim) continue;
		float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
		for (long i = 0; i < (long)m * k; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
		for (long i = 0; i < (long)k * n; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
		// best of several timed batches: the machine is shared
		double best = 0;
		double start = now();
		while (now() - start < budget) {
			int reps = 0;
			double t0 = now(), t;
			do {
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
				reps++;
				t = now() - t0;
			} while (t < budget / 5);
			double g = 2.0 * m * n * k * reps / t / 1e9;
			if (g > best) best = g;
		}
		printf("shape=%dx%dx%d gflops=%.2f\n", m, n, k, best);
		fflush(stdout);
		free(a); free(b); free(c);
	}
	return 0;
}
