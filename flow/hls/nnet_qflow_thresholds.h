// qflow extension for hls4ml: exact per-channel multi-threshold activation (BatchNorm + activation + quantizer
// folded into integer thresholds by qflow's lowering).
//
//   res[i] = levels[count],   count = #{t : data[i] >= thresholds[c][t]}   (ascending channel c)
//                             count = #{t : data[i] <= thresholds[c][t]}   (descending[c] != 0: BN scale < 0)
//   with c = i % n_chan: element i of a flat vector (n_chan = n_in) or of a channels-last feature map.
//
// thresholds are stored in the input's own fixed-point type, so every comparison is exact; levels[] holds the
// output values (code * scale, or -1/+1 for bipolar outputs) in the output type.
#ifndef NNET_QFLOW_THRESHOLDS_H_
#define NNET_QFLOW_THRESHOLDS_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct qflow_thresholds_config {
    static const unsigned n_in = 10;   // elements per inference
    static const unsigned n_chan = 10; // channels (thresholds per element: those of channel i % n_chan)
    static const unsigned n_steps = 1;
    static const unsigned io_type = io_parallel;
    static const unsigned reuse_factor = 1;
    typedef float threshold_t;
};

template <class data_T, class res_T, typename CONFIG_T>
res_T qflow_threshold_one(data_T x, unsigned channel, const typename CONFIG_T::threshold_t *thresholds,
                          const res_T *levels, const ap_uint<1> *descending) {
    #pragma HLS INLINE
    unsigned count = 0;
    for (unsigned t = 0; t < CONFIG_T::n_steps; t++) {
        #pragma HLS UNROLL
        const typename CONFIG_T::threshold_t th = thresholds[channel * CONFIG_T::n_steps + t];
        const bool hit = descending[channel] ? (x <= th) : (x >= th);
        count += hit ? 1 : 0;
    }
    return levels[count];
}

template <class data_T, class res_T, typename CONFIG_T>
void qflow_thresholds(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                      const typename CONFIG_T::threshold_t thresholds[CONFIG_T::n_chan * CONFIG_T::n_steps],
                      const res_T levels[CONFIG_T::n_steps + 1], const ap_uint<1> descending[CONFIG_T::n_chan]) {
    #pragma HLS PIPELINE
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        res[i] = qflow_threshold_one<data_T, res_T, CONFIG_T>(data[i], i % CONFIG_T::n_chan, thresholds, levels,
                                                             descending);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void qflow_thresholds(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      const typename CONFIG_T::threshold_t thresholds[CONFIG_T::n_chan * CONFIG_T::n_steps],
                      const typename res_T::value_type levels[CONFIG_T::n_steps + 1],
                      const ap_uint<1> descending[CONFIG_T::n_chan]) {
    // io_stream: each beat carries data_T::size consecutive elements; the channel index wraps over n_chan.
    unsigned channel = 0;
    for (unsigned beat = 0; beat < CONFIG_T::n_in / data_T::size; beat++) {
        #pragma HLS PIPELINE
        data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
        for (unsigned j = 0; j < data_T::size; j++) {
            #pragma HLS UNROLL
            out[j] = qflow_threshold_one<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(
                in[j], (channel + j) % CONFIG_T::n_chan, thresholds, levels, descending);
        }
        res.write(out);
        channel = (channel + data_T::size) % CONFIG_T::n_chan;
    }
}

} // namespace nnet

#endif
