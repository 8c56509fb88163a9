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

// AdderNet's 2-D convolution, channels-last: res[oy][ox][oc] = -sum_{ky,kx,c} |x[iy][ix][c] - w[ky][kx][c][oc]|
// with iy = oy*stride + ky - pad_top, ix = ox*stride + kx - pad_left, and x = 0 outside the image (zero padding).
// weights are (K, K, C, OC) row-major, hls4ml's Conv2D layout. A plain loop nest for C-simulation: the whole
// image is buffered first (no line buffer), so this is a reference for C-sim, not an optimized HLS kernel.
struct qflow_adder_conv_config {
    static const unsigned in_height = 8, in_width = 8, n_chan = 1;
    static const unsigned out_height = 6, out_width = 6, n_filt = 1;
    static const unsigned filt = 3, stride = 1, pad_top = 0, pad_left = 0;
    static const unsigned io_type = io_parallel;
    static const unsigned reuse_factor = 1;
    typedef float weight_t;
    typedef float diff_t;
    typedef float accum_t;
};

template <class x_T, typename CONFIG_T>
typename CONFIG_T::accum_t qflow_adder_conv_one(const x_T *img, unsigned oy, unsigned ox, unsigned oc,
                                                const typename CONFIG_T::weight_t *weights) {
    typename CONFIG_T::accum_t acc = 0;
    for (unsigned ky = 0; ky < CONFIG_T::filt; ky++) {
        for (unsigned kx = 0; kx < CONFIG_T::filt; kx++) {
            const int iy = int(oy * CONFIG_T::stride + ky) - int(CONFIG_T::pad_top);
            const int ix = int(ox * CONFIG_T::stride + kx) - int(CONFIG_T::pad_left);
            const bool inside = iy >= 0 && ix >= 0 && iy < int(CONFIG_T::in_height) && ix < int(CONFIG_T::in_width);
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                const typename CONFIG_T::diff_t x =
                    inside ? typename CONFIG_T::diff_t(img[(iy * CONFIG_T::in_width + ix) * CONFIG_T::n_chan + c])
                           : typename CONFIG_T::diff_t(0);
                const unsigned wi = ((ky * CONFIG_T::filt + kx) * CONFIG_T::n_chan + c) * CONFIG_T::n_filt + oc;
                const typename CONFIG_T::diff_t d = x - typename CONFIG_T::diff_t(weights[wi]);
                acc -= (d < 0) ? typename CONFIG_T::diff_t(-d) : d;
            }
        }
    }
    return acc;
}

template <class data_T, class res_T, typename CONFIG_T>
void qflow_adder_conv2d(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                        res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                        const typename CONFIG_T::weight_t
                            weights[CONFIG_T::filt * CONFIG_T::filt * CONFIG_T::n_chan * CONFIG_T::n_filt]) {
    for (unsigned oy = 0; oy < CONFIG_T::out_height; oy++)
        for (unsigned ox = 0; ox < CONFIG_T::out_width; ox++)
            for (unsigned oc = 0; oc < CONFIG_T::n_filt; oc++)
                res[(oy * CONFIG_T::out_width + ox) * CONFIG_T::n_filt + oc] =
                    qflow_adder_conv_one<data_T, CONFIG_T>(data, oy, ox, oc, weights);
}

template <class data_T, class res_T, typename CONFIG_T>
void qflow_adder_conv2d(hls::stream<data_T> &data, hls::stream<res_T> &res,
                        const typename CONFIG_T::weight_t
                            weights[CONFIG_T::filt * CONFIG_T::filt * CONFIG_T::n_chan * CONFIG_T::n_filt]) {
    // io_stream: one beat per pixel (n_chan elements in, n_filt out), row-major
    static typename data_T::value_type img[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan];
    for (unsigned p = 0; p < CONFIG_T::in_height * CONFIG_T::in_width; p++) {
        data_T in = data.read();
        for (unsigned k = 0; k < data_T::size; k++) img[p * data_T::size + k] = in[k];
    }
    for (unsigned oy = 0; oy < CONFIG_T::out_height; oy++) {
        for (unsigned ox = 0; ox < CONFIG_T::out_width; ox++) {
            res_T out;
            PRAGMA_DATA_PACK(out)
            for (unsigned oc = 0; oc < CONFIG_T::n_filt; oc++)
                out[oc] = qflow_adder_conv_one<typename data_T::value_type, CONFIG_T>(img, oy, ox, oc, weights);
            res.write(out);
        }
    }
}

} // namespace nnet

#endif
