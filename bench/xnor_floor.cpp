// The arithmetic floor of simulating fully parallel tfc_w1a1: the XNOR-popcount work of one inference
// (784x64, 64x64, 64x64, 64x10 binary matrix-vector products, one threshold compare per hidden neuron) as
// hand-written C++ on 64-bit words with the hardware popcount, and nothing else: no clock, no handshakes, no
// registers, no I/O. Random weights and inputs (the work does not depend on the values). Any cycle-accurate
// simulation of that design does at least this much per inference, so it bounds the "inferences/s in
// simulation" of issue 3 from above on this machine.
//
//   g++ -O3 -march=native bench/xnor_floor.cpp -o build/xnor_floor && build/xnor_floor
//   g++ -O2 bench/xnor_floor.cpp -o build/xnor_floor_nopopcnt && build/xnor_floor_nopopcnt   # no popcnt insn
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

static inline int popcount(uint64_t v) { return __builtin_popcountll(v); }

int main() {
    std::mt19937_64 rng(1);
    const int n = 200000, distinct = 1024, words0 = 13;  // 784 input bits in 13 words (the last one padded)
    std::vector<uint64_t> x(static_cast<size_t>(words0) * distinct);
    for (auto& v : x) v = rng();
    uint64_t w0[64][words0], w1[64], w2[64], w3[10];
    for (auto& row : w0)
        for (auto& v : row) v = rng();
    for (auto& v : w1) v = rng();
    for (auto& v : w2) v = rng();
    for (auto& v : w3) v = rng();
    int threshold[64];
    for (auto& t : threshold) t = 392;
    volatile int sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
        const uint64_t* xi = &x[static_cast<size_t>(i % distinct) * words0];
        uint64_t h1 = 0, h2 = 0, h3 = 0;
        for (int p = 0; p < 64; ++p) {
            int s = 0;
            for (int k = 0; k < words0; ++k) s += popcount(~(xi[k] ^ w0[p][k]));
            h1 |= static_cast<uint64_t>(s >= threshold[p]) << p;
        }
        for (int p = 0; p < 64; ++p) h2 |= static_cast<uint64_t>(popcount(~(h1 ^ w1[p])) >= 32) << p;
        for (int p = 0; p < 64; ++p) h3 |= static_cast<uint64_t>(popcount(~(h2 ^ w2[p])) >= 32) << p;
        int logits = 0;
        for (int p = 0; p < 10; ++p) logits += popcount(~(h3 ^ w3[p]));
        sink = sink + logits;
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
    std::printf("%d inferences: %.3f us/inference = %.0f inferences/s\n", n, us, 1e6 / us);
    return 0;
}
