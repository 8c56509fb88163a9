`default_nettype none
// maxpool: non-overlapping K x K max pooling (stride K), AXI-Stream in and out.
//
// Input : images of IFM_H x IFM_W pixels x CH channels, channels-last, pixel (y, x) in row-major order,
//         each pixel CF = CH/SIMD beats; element s of beat cf (channel cf*SIMD + s) at
//         bits [s*ELEM_BITS +: ELEM_BITS]. Images follow each other with no gap or marker.
// Output: OH = IFM_H/K by OW = IFM_W/K pixels (floor: leftover rows and columns are read and dropped),
//         same layout; output pixel (oy, ox) is the element-wise max of input pixels
//         (oy*K + ky, ox*K + kx), ky, kx < K. Elements compare as signed if SIGNED, else unsigned (bipolar
//         1-bit codes, 1 = +1 / 0 = -1, work as unsigned).
//
// One row of partial maxima (OW*CF words of SIMD*ELEM_BITS, asynchronous read: distributed RAM): each
// input beat of a kept pixel reads its word (ox*CF + cf), takes the max with it (or starts it, at ky = kx
// = 0) and writes it back; at ky = kx = K-1 the result goes into a 2-deep output queue instead.
// s_axis_tready is low only while the current beat would complete an output beat and the queue is full;
// it depends on registers only (no combinational path from m_axis_tready to s_axis_tready).
//
// Timing: one input beat per cycle; an input beat accepted in cycle t that completes an output beat makes
// it valid in cycle t + 1. With the output always ready the input is never stalled: an image takes
// IFM_H*IFM_W*CF cycles.
module maxpool #(
    parameter integer IFM_H     = 7,
    parameter integer IFM_W     = 5,
    parameter integer CH        = 4,
    parameter integer SIMD      = 2,
    parameter integer K         = 2,
    parameter integer ELEM_BITS = 4,
    parameter integer SIGNED    = 1
) (
    input  wire                        clk,
    input  wire                        rst_n,
    input  wire [SIMD*ELEM_BITS-1:0]   s_axis_tdata,
    input  wire                        s_axis_tvalid,
    output wire                        s_axis_tready,
    output wire [SIMD*ELEM_BITS-1:0]   m_axis_tdata,
    output wire                        m_axis_tvalid,
    input  wire                        m_axis_tready
);
    localparam integer CF    = CH / SIMD;
    localparam integer OH    = IFM_H / K;
    localparam integer OW    = IFM_W / K;
    localparam integer HK    = OH * K;     // rows pooled (the others are dropped)
    localparam integer WK    = OW * K;     // columns pooled
    localparam integer DEPTH = OW * CF;    // words of partial maxima
    localparam integer MEMD  = (DEPTH < 2) ? 2 : DEPTH;
    localparam integer EW    = SIMD * ELEM_BITS;
    localparam integer AW    = $clog2(MEMD); // addresses (cf and ob count below DEPTH too)
    // counter widths: each holds 0..N for a counter over 0..N-1
    localparam integer XB    = $clog2(IFM_W + 1);
    localparam integer YB    = $clog2(IFM_H + 1);
    localparam integer KB    = $clog2(K + 1);

    generate
        if (SIMD < 1 || CH % SIMD != 0 || K < 1 || K > IFM_H || K > IFM_W || ELEM_BITS < 1) begin : g_bad_params
            initial begin
                $display("ERROR: maxpool: need SIMD | CH (CH=%0d, SIMD=%0d), 1 <= K <= IFM_H, IFM_W (K=%0d, %0dx%0d)",
                         CH, SIMD, K, IFM_H, IFM_W);
                $finish;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ position counters
    reg  [AW-1:0] cf;            // AW bits: CF <= DEPTH
    reg  [XB-1:0] x;
    reg  [YB-1:0] y;
    reg  [KB-1:0] kx, ky;
    reg  [AW-1:0] ob;            // ox*CF: first word of the current output pixel

    wire last_cf = (cf == CF[AW-1:0] - 1'b1);
    wire last_x  = (x == IFM_W[XB-1:0] - 1'b1);
    wire last_y  = (y == IFM_H[YB-1:0] - 1'b1);
    wire last_kx = (kx == K[KB-1:0] - 1'b1);
    wire last_ky = (ky == K[KB-1:0] - 1'b1);
    wire kept    = (y < HK[YB-1:0]) && (x < WK[XB-1:0]);
    wire first   = (kx == {KB{1'b0}}) && (ky == {KB{1'b0}});
    wire emit    = kept && last_kx && last_ky;

    reg  [1:0] q_wp, q_rp;       // output queue pointers, mod 4
    wire       q_full = ((q_wp ^ q_rp) == 2'b10);

    assign s_axis_tready = !(emit && q_full);
    wire take = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= {AW{1'b0}};
            x  <= {XB{1'b0}};
            y  <= {YB{1'b0}};
            kx <= {KB{1'b0}};
            ky <= {KB{1'b0}};
            ob <= {AW{1'b0}};
        end else if (take) begin
            cf <= last_cf ? {AW{1'b0}} : cf + 1'b1;
            if (last_cf) begin
                if (last_x) begin
                    x  <= {XB{1'b0}};
                    kx <= {KB{1'b0}};
                    ob <= {AW{1'b0}};
                    y  <= last_y ? {YB{1'b0}} : y + 1'b1;
                    ky <= (last_y || last_ky) ? {KB{1'b0}} : ky + 1'b1;
                end else begin
                    x  <= x + 1'b1;
                    kx <= last_kx ? {KB{1'b0}} : kx + 1'b1;
                    if (last_kx) ob <= ob + CF[AW-1:0];
                end
            end
        end
    end

    // ------------------------------------------------------------------ partial maxima
    reg  [EW-1:0] acc [0:MEMD-1];
    wire [AW-1:0] addr = ob + cf;
    wire [EW-1:0] prev = acc[addr];
    wire [EW-1:0] pooled;

    genvar s;
    generate
        for (s = 0; s < SIMD; s = s + 1) begin : g_lane
            wire [ELEM_BITS-1:0] a = s_axis_tdata[s*ELEM_BITS +: ELEM_BITS];
            wire [ELEM_BITS-1:0] b = prev[s*ELEM_BITS +: ELEM_BITS];
            wire                 a_gt_b;
            if (SIGNED != 0) begin : g_signed
                assign a_gt_b = ($signed(a) > $signed(b));
            end else begin : g_unsigned
                assign a_gt_b = (a > b);
            end
            assign pooled[s*ELEM_BITS +: ELEM_BITS] = (first || a_gt_b) ? a : b;
        end
    endgenerate

    always @(posedge clk) begin
        if (take && kept) acc[addr] <= pooled;
    end

    // ------------------------------------------------------------------ output queue (2 beats)
    reg [EW-1:0] q_mem [0:1];

    always @(posedge clk) begin
        if (take && emit) q_mem[q_wp[0]] <= pooled;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= 2'd0;
            q_rp <= 2'd0;
        end else begin
            if (take && emit) q_wp <= q_wp + 2'd1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 2'd1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[0]];
endmodule
`default_nettype wire
