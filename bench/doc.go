// Package bench holds graft's benchmarks: SGEMM per kernel tier beside
// gonum's pure-Go Sgemm as the in-repo peer. Each reports GFLOP/s with
// b.ReportMetric so that benchstat compares tiers and peers in one run:
//
//	go test -run '^$' -bench Sgemm -cpu 1,2 -count 6 ./bench | tee new.txt
//	benchstat -col /impl new.txt
//
// bench/peers has scripts that time OpenBLAS on the same shapes.
package bench
