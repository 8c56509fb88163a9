`default_nettype none
// swg: sliding-window generator (convolution input generator), AXI-Stream in and out.
//
// Input : images of IFM_H x IFM_W pixels x CH channels, channels-last, pixel (y, x) in row-major order,
//         each pixel CF = CH/SIMD beats; element s of beat cf (channel cf*SIMD + s) at
//         bits [s*ELEM_BITS +: ELEM_BITS]. Images follow each other with no gap or marker.
// Output: OH = (IFM_H-K)/STRIDE + 1 by OW = (IFM_W-K)/STRIDE + 1 windows (floor: rows and columns that
//         no window covers are read and dropped), in row-major order; window (oy, ox) is K*K*CF beats,
//         for ky, for kx, for cf: input pixel (oy*STRIDE+ky, ox*STRIDE+kx), beat cf. Element index in the
//         window: (ky*K + kx)*CH + c, the vector a SIMD-lane matrix-vector unit consumes.
//
// Line buffer: a circular buffer of NR = K + STRIDE rows of WK = (OW-1)*STRIDE + K pixels (the columns a
// window covers; dropped columns are not stored) in one memory (DEPTH = NR*WK*CF words of SIMD*ELEM_BITS,
// one write port, one synchronous read port: block or distributed RAM). Only the HK = (OH-1)*STRIDE + K
// rows a window covers are stored; rows are numbered in one sequence across images (the next image's
// row 0 follows this image's row HK-1), so the next image's rows fill slots as soon as they are free.
// F = rows completely written beyond the top row of the current output row (min(0, K-STRIDE)..NR):
//   write : a beat of a stored row is accepted while F < NR (the row being written has a free slot);
//           a beat of a dropped row (y >= HK) is always accepted; F += 1 when the last beat of a stored
//           input row is accepted.
//   read  : one output beat per cycle while F >= K (all K rows of the current output row are written)
//           and the output queue has room; F -= STRIDE when the last beat of an output row is read,
//           F -= K after the image's last output row (the next image's row 0 follows row HK-1).
// Never deadlocks (F < K lets the writer run, F >= K the reader). The next image's pixels are taken as
// early as slots are free: up to STRIDE of its rows while the last output row of this image is read.
//
// Pipeline: read issue (address from counters) -> memory read register -> 4-deep output queue. A credit
// counter admits a read only when its queue slot is guaranteed; s_axis_tready depends on registers only
// (no combinational path from m_axis_tready to s_axis_tready). An output beat issued in cycle t is valid
// in cycle t + 2; a row that completes in cycle t (last input beat accepted) can be read from t + 1.
// With the output always ready the queue never fills: the exact output valid times are the ones of the
// cycle model in flow/rtl/ops/swg.py (output_valid_times), the steady-state cycles per image those of
// cycles_per_image there: max(IFM_H*IFM_W*CF, OH*OW*K*K*CF + max(K-STRIDE, 0)*IFM_W*CF) (the second term:
// at each image start the reader waits for the K-STRIDE rows not written early), a few cycles more when
// the two are close.
module swg #(
    parameter integer IFM_H     = 7,
    parameter integer IFM_W     = 9,
    parameter integer CH        = 4,
    parameter integer SIMD      = 2,
    parameter integer K         = 3,
    parameter integer STRIDE    = 2,
    parameter integer ELEM_BITS = 4
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
    localparam integer CF     = CH / SIMD;
    localparam integer OH     = (IFM_H - K) / STRIDE + 1;
    localparam integer OW     = (IFM_W - K) / STRIDE + 1;
    localparam integer HK     = (OH - 1) * STRIDE + K;  // rows some window covers (stored)
    localparam integer WK     = (OW - 1) * STRIDE + K;  // columns some window covers (stored)
    localparam integer NR     = K + STRIDE;             // rows in the circular buffer
    localparam integer ROWLEN = WK * CF;                // words per buffer row
    localparam integer DEPTH  = NR * ROWLEN;
    localparam integer EW     = SIMD * ELEM_BITS;
    // counter widths: each holds 0..N for a counter over 0..N-1 (so N itself is a valid constant)
    localparam integer AW     = $clog2(DEPTH);          // addresses, offsets (DEPTH >= 2)
    localparam integer CB     = $clog2(CF + 1);
    localparam integer XB     = $clog2(IFM_W + 1);
    localparam integer YB     = $clog2(IFM_H + 1);
    localparam integer KYB    = $clog2(K + 1);
    localparam integer OXB    = $clog2(OW + 1);
    localparam integer OYB    = $clog2(OH + 1);
    // F is kept as FO = F + F_OFF: with STRIDE > K a finished output row frees STRIDE rows, more than the
    // K it needs, and F goes down to K - STRIDE (the next output row's top row is not written yet)
    localparam integer F_OFF  = (STRIDE > K) ? STRIDE - K : 0;
    localparam integer FB     = $clog2(NR + F_OFF + 1);
    localparam integer F_WR   = NR + F_OFF;             // write while FO < F_WR
    localparam integer F_RD   = K + F_OFF;              // read while FO >= F_RD
    // constants used in the address arithmetic
    localparam integer KC_LAST  = K * CF - 1;
    localparam integer WIN_STEP = STRIDE * CF;
    localparam integer ROW_S    = STRIDE * ROWLEN;
    localparam integer ROW_K    = K * ROWLEN;

    generate
        if (SIMD < 1 || CH % SIMD != 0 || K < 1 || STRIDE < 1 || K > IFM_H || K > IFM_W || ELEM_BITS < 1)
        begin : g_bad_params
            initial begin
                $display("ERROR: swg: need SIMD | CH (CH=%0d, SIMD=%0d), 1 <= K <= IFM_H, IFM_W (K=%0d, %0dx%0d), STRIDE >= 1 (%0d)",
                         CH, SIMD, K, IFM_H, IFM_W, STRIDE);
                $finish;
            end
        end
    endgenerate

    // (a + b) mod DEPTH for a < DEPTH, b <= DEPTH
    function [AW-1:0] add_mod;
        input [AW-1:0] a;
        input [AW-1:0] b;
        reg   [AW:0]   s;
        begin
            s = {1'b0, a} + {1'b0, b};
            if (s >= DEPTH[AW:0]) s = s - DEPTH[AW:0];
            add_mod = s[AW-1:0];
        end
    endfunction

    reg  [FB-1:0] full_rows;  // FO = F + F_OFF

    // ------------------------------------------------------------------ write side
    reg  [CB-1:0] wcf;
    reg  [XB-1:0] wx;
    reg  [YB-1:0] wy;
    reg  [AW-1:0] wa;         // next write address: stored beats in sequence, mod DEPTH

    wire w_row_kept = (wy < HK[YB-1:0]);
    wire w_col_kept = (wx < WK[XB-1:0]);
    wire w_last_cf  = (wcf == CF[CB-1:0] - 1'b1);
    wire w_last_x   = (wx == IFM_W[XB-1:0] - 1'b1);
    wire w_last_y   = (wy == IFM_H[YB-1:0] - 1'b1);

    assign s_axis_tready = !w_row_kept || (full_rows < F_WR[FB-1:0]);

    wire w_take   = s_axis_tvalid && s_axis_tready;
    wire w_en     = w_take && w_row_kept && w_col_kept;
    wire row_done = w_take && w_row_kept && w_last_cf && w_last_x;

    always @(posedge clk) begin
        if (!rst_n) begin
            wcf <= {CB{1'b0}};
            wx  <= {XB{1'b0}};
            wy  <= {YB{1'b0}};
            wa  <= {AW{1'b0}};
        end else begin
            if (w_take) begin
                wcf <= w_last_cf ? {CB{1'b0}} : wcf + 1'b1;
                if (w_last_cf) begin
                    wx <= w_last_x ? {XB{1'b0}} : wx + 1'b1;
                    if (w_last_x) wy <= w_last_y ? {YB{1'b0}} : wy + 1'b1;
                end
            end
            if (w_en) wa <= add_mod(wa, {{(AW-1){1'b0}}, 1'b1});
        end
    end

    // ------------------------------------------------------------------ read side
    reg  [AW-1:0]  kc;        // kx*CF + cf inside the window row
    reg  [KYB-1:0] ky;
    reg  [OXB-1:0] ox;
    reg  [OYB-1:0] oy;
    reg  [AW-1:0]  rb;        // address of the output row's top buffer row
    reg  [AW-1:0]  kr;        // address of buffer row ky of the window
    reg  [AW-1:0]  wb;        // ox*STRIDE*CF: the window's first word in its rows

    reg  [2:0]     q_ip, q_wp, q_rp;  // beats issued / written / read, mod 8
    wire           q_full = ((q_ip ^ q_rp) == 3'b100);

    wire r_kc_last = (kc == KC_LAST[AW-1:0]);
    wire r_ky_last = (ky == K[KYB-1:0] - 1'b1);
    wire r_ox_last = (ox == OW[OXB-1:0] - 1'b1);
    wire r_oy_last = (oy == OH[OYB-1:0] - 1'b1);
    wire issue     = (full_rows >= F_RD[FB-1:0]) && !q_full;
    wire out_row_done = issue && r_kc_last && r_ky_last && r_ox_last;

    wire [AW-1:0] raddr   = kr + wb + kc;  // < DEPTH: kr starts a buffer row, wb + kc < ROWLEN
    wire [AW-1:0] kr_next = add_mod(kr, ROWLEN[AW-1:0]);
    wire [AW-1:0] rb_s    = add_mod(rb, ROW_S[AW-1:0]);
    wire [AW-1:0] rb_k    = add_mod(rb, ROW_K[AW-1:0]);

    always @(posedge clk) begin
        if (!rst_n) begin
            kc   <= {AW{1'b0}};
            ky   <= {KYB{1'b0}};
            ox   <= {OXB{1'b0}};
            oy   <= {OYB{1'b0}};
            rb   <= {AW{1'b0}};
            kr   <= {AW{1'b0}};
            wb   <= {AW{1'b0}};
            q_ip <= 3'd0;
        end else if (issue) begin
            q_ip <= q_ip + 3'd1;
            if (!r_kc_last) begin
                kc <= kc + 1'b1;
            end else begin
                kc <= {AW{1'b0}};
                if (!r_ky_last) begin
                    ky <= ky + 1'b1;
                    kr <= kr_next;
                end else begin
                    ky <= {KYB{1'b0}};
                    if (!r_ox_last) begin
                        ox <= ox + 1'b1;
                        wb <= wb + WIN_STEP[AW-1:0];
                        kr <= rb;
                    end else begin
                        ox <= {OXB{1'b0}};
                        wb <= {AW{1'b0}};
                        if (!r_oy_last) begin
                            oy <= oy + 1'b1;
                            rb <= rb_s;
                            kr <= rb_s;
                        end else begin
                            oy <= {OYB{1'b0}};
                            rb <= rb_k;
                            kr <= rb_k;
                        end
                    end
                end
            end
        end
    end

    // ------------------------------------------------------------------ row accounting
    wire [FB-1:0] rows_freed = !out_row_done ? {FB{1'b0}} : (r_oy_last ? K[FB-1:0] : STRIDE[FB-1:0]);

    always @(posedge clk) begin
        if (!rst_n) full_rows <= F_OFF[FB-1:0];
        else        full_rows <= full_rows + {{(FB-1){1'b0}}, row_done} - rows_freed;
    end

    // ------------------------------------------------------------------ line buffer
    reg [EW-1:0] mem [0:DEPTH-1];
    reg [EW-1:0] rdata;
    reg          v1;

    always @(posedge clk) begin
        if (w_en) mem[wa] <= s_axis_tdata;
    end

    always @(posedge clk) begin
        if (issue) rdata <= mem[raddr];
    end

    always @(posedge clk) begin
        if (!rst_n) v1 <= 1'b0;
        else        v1 <= issue;
    end

    // ------------------------------------------------------------------ output queue (4 beats)
    reg [EW-1:0] q_mem [0:3];

    always @(posedge clk) begin
        if (v1) q_mem[q_wp[1:0]] <= rdata;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= 3'd0;
            q_rp <= 3'd0;
        end else begin
            if (v1) q_wp <= q_wp + 3'd1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 3'd1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[1:0]];
endmodule
`default_nettype wire
