// qflow extension for hls4ml: AdderNet's dense layer, res[j] = -sum_i |data[i] - weights[i][j]|.
//
// data and weights sit on one fixed-point grid (same fraction bits: qflow quantizes x and w with one
// power-of-two scale), diff_t holds every x - w exactly and accum_t every partial sum (qflow's interval
// analysis of the real weights), so the result is exact. weights are stored (n_in, n_out) row-major, the
// layout hls4ml uses for Dense.
#ifndef NNET_QFLOW_ADDER_H_
#define NNET_QFLOW_ADDER_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct qflow_adder_config {
    static const unsigned n_in = 10;
    static const unsigned n_out = 10;
    static const unsigned io_type = io_parallel;
    static const unsigned reuse_factor = 1;
    typedef float weight_t;
    typedef float diff_t;
    typedef float accum_t;
};

template <class data_T, typename CONFIG_T>
typename CONFIG_T::accum_t qflow_adder_one(const data_T *data, unsigned j,
                                           const typename CONFIG_T::weight_t *weights) {
    #pragma HLS INLINE
    typename CONFIG_T::accum_t acc = 0;
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        const typename CONFIG_T::diff_t d = typename CONFIG_T::diff_t(data[i]) -
                                            typename CONFIG_T::diff_t(weights[i * CONFIG_T::n_out + j]);
        acc -= (d < 0) ? typename CONFIG_T::diff_t(-d) : d;
    }
    return acc;
}

template <class data_T, class res_T, typename CONFIG_T>
void qflow_adder_dense(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                       const typename CONFIG_T::weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out]) {
    #pragma HLS PIPELINE
    for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
        #pragma HLS UNROLL
        res[j] = qflow_adder_one<data_T, CONFIG_T>(data, j, weights);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void qflow_adder_dense(hls::stream<data_T> &data, hls::stream<res_T> &res,
                       const typename CONFIG_T::weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out]) {
    // io_stream: gather the whole input vector (data_T::size elements per beat), then emit the outputs
    typename data_T::value_type vec[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = vec complete
    for (unsigned beat = 0; beat < CONFIG_T::n_in / data_T::size; beat++) {
        #pragma HLS PIPELINE
        data_T in = data.read();
        for (unsigned k = 0; k < data_T::size; k++) {
            #pragma HLS UNROLL
            vec[beat * data_T::size + k] = in[k];
        }
    }
    for (unsigned beat = 0; beat < CONFIG_T::n_out / res_T::size; beat++) {
        #pragma HLS PIPELINE
        res_T out;
        PRAGMA_DATA_PACK(out)
        for (unsigned k = 0; k < res_T::size; k++) {
            #pragma HLS UNROLL
            out[k] = qflow_adder_one<typename data_T::value_type, CONFIG_T>(vec, beat * res_T::size + k, weights);
        }
        res.write(out);
    }
}

} // namespace nnet

#endif
