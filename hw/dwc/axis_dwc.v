`default_nettype none
// axis_dwc: AXI-Stream width converter for streams of ELEM_BITS-wide elements, element order preserved
// (element 0 in the least significant bits of every beat). Any IN_ELEMS, OUT_ELEMS >= 1.
//
// Built from two stages through MID = lcm(IN_ELEMS, OUT_ELEMS) elements:
//   up   (IN -> MID, K_UP = MID/IN beats gathered): an assembly register takes the first K_UP-1 beats,
//        the last beat goes with them into the output register. s_axis_tready depends on registers only.
//   down (MID -> OUT, K_DN = MID/OUT beats emitted): the beat is held in a shift register and sent
//        OUT_ELEMS at a time. Its input ready is !valid || (m_axis_tready && last slice): one gate of
//        combinational path from m_axis_tready, which keeps full throughput without a second register.
// A stage with factor 1 is a wire. IN == OUT: the converter is a wire (no latency, no logic).
//
// Throughput with no stalls: one beat per cycle on the narrower side, i.e. a vector of N elements
// (N a multiple of MID) every max(N/IN_ELEMS, N/OUT_ELEMS) cycles.
// Latency (no stalls): the last input beat of a group accepted in cycle t makes the first output beat of
// that group valid in cycle t + L, L = (K_UP > 1) + (K_DN > 1) (0 when IN == OUT).
module axis_dwc #(
    parameter integer IN_ELEMS  = 4,
    parameter integer OUT_ELEMS = 2,
    parameter integer ELEM_BITS = 1
) (
    input  wire                            clk,
    input  wire                            rst_n,
    input  wire [IN_ELEMS*ELEM_BITS-1:0]   s_axis_tdata,
    input  wire                            s_axis_tvalid,
    output wire                            s_axis_tready,
    output wire [OUT_ELEMS*ELEM_BITS-1:0]  m_axis_tdata,
    output wire                            m_axis_tvalid,
    input  wire                            m_axis_tready
);
    function integer gcd;
        input integer a, b;
        integer x, y, t;
        begin
            x = a;
            y = b;
            while (y != 0) begin
                t = x % y;
                x = y;
                y = t;
            end
            gcd = x;
        end
    endfunction

    function integer imax;
        input integer a, b;
        begin
            imax = (a > b) ? a : b;
        end
    endfunction

    localparam integer MID  = IN_ELEMS / gcd(IN_ELEMS, OUT_ELEMS) * OUT_ELEMS;
    localparam integer K_UP = MID / IN_ELEMS;
    localparam integer K_DN = MID / OUT_ELEMS;
    localparam integer IW   = IN_ELEMS * ELEM_BITS;
    localparam integer OW   = OUT_ELEMS * ELEM_BITS;
    localparam integer MW   = MID * ELEM_BITS;
    localparam integer UW   = imax($clog2(K_UP), 1);
    localparam integer DW   = imax($clog2(K_DN), 1);

    generate
        if (IN_ELEMS < 1 || OUT_ELEMS < 1 || ELEM_BITS < 1) begin : g_bad_params
            initial begin
                $display("ERROR: axis_dwc: IN_ELEMS=%0d, OUT_ELEMS=%0d, ELEM_BITS=%0d must all be >= 1",
                         IN_ELEMS, OUT_ELEMS, ELEM_BITS);
                $finish;
            end
        end
    endgenerate

    // the MID-element stream between the stages
    wire [MW-1:0] mid_tdata;
    wire          mid_tvalid;
    wire          mid_tready;

    generate
        if (K_UP == 1) begin : g_up_wire
            assign mid_tdata     = s_axis_tdata;
            assign mid_tvalid    = s_axis_tvalid;
            assign s_axis_tready = mid_tready;
        end else begin : g_up
            // The beats shift into the assembly register from the top, so a beat's place needs no decoder of
            // idx (beat 0 reaches the bottom after K_UP-1 beats), and `last` is a register of its own: the
            // handshake that enables every assembly flip-flop is one gate from registers (measured: the
            // indexed form put idx -> compare -> ready -> enable of ~1,500 flip-flops on the critical path of
            // a placed and routed 784-bit input, 15 ns on an ECP5).
            reg [(K_UP-1)*IW-1:0] asm_data;  // beats 0 .. K_UP-2 of the group being gathered
            reg [UW-1:0]          idx;       // index of the next beat in its group
            reg                   last;      // idx == K_UP-1
            reg [MW-1:0]          out_data;
            reg                   out_valid;
            wire                  take = s_axis_tvalid && s_axis_tready;
            localparam integer    PRE_LAST_I = K_UP - 2;  // idx of the beat before the last
            localparam [UW-1:0]   PRE_LAST   = PRE_LAST_I[UW-1:0];

            assign s_axis_tready = !last || !out_valid;
            assign mid_tdata     = out_data;
            assign mid_tvalid    = out_valid;

            always @(posedge clk) begin
                if (!rst_n) begin
                    idx       <= {UW{1'b0}};
                    last      <= 1'b0;
                    out_valid <= 1'b0;
                end else begin
                    if (out_valid && mid_tready) out_valid <= 1'b0;
                    if (take) begin
                        if (last) begin
                            idx       <= {UW{1'b0}};
                            last      <= 1'b0;
                            out_valid <= 1'b1;
                        end else begin
                            idx  <= idx + 1'b1;
                            last <= (idx == PRE_LAST);
                        end
                    end
                end
            end

            if (K_UP == 2) begin : g_asm_one
                always @(posedge clk) begin
                    if (take) begin
                        if (last) out_data <= {s_axis_tdata, asm_data};
                        else      asm_data <= s_axis_tdata;
                    end
                end
            end else begin : g_asm_shift
                always @(posedge clk) begin
                    if (take) begin
                        if (last) out_data <= {s_axis_tdata, asm_data};
                        else      asm_data <= {s_axis_tdata, asm_data[(K_UP-1)*IW-1:IW]};
                    end
                end
            end
        end

        if (K_DN == 1) begin : g_dn_wire
            assign m_axis_tdata  = mid_tdata;
            assign m_axis_tvalid = mid_tvalid;
            assign mid_tready    = m_axis_tready;
        end else begin : g_dn
            reg [MW-1:0] sh;     // remaining slices, the next one in the low OW bits
            reg          valid;
            reg [DW-1:0] idx;    // slice being presented
            wire         last = (idx == K_DN[DW-1:0] - 1'b1);

            assign mid_tready    = !valid || (m_axis_tready && last);
            assign m_axis_tdata  = sh[OW-1:0];
            assign m_axis_tvalid = valid;

            always @(posedge clk) begin
                if (!rst_n) begin
                    valid <= 1'b0;
                    idx   <= {DW{1'b0}};
                end else if (mid_tvalid && mid_tready) begin
                    valid <= 1'b1;
                    idx   <= {DW{1'b0}};
                end else if (valid && m_axis_tready) begin
                    if (last) valid <= 1'b0;
                    idx <= last ? {DW{1'b0}} : idx + 1'b1;
                end
            end

            always @(posedge clk) begin
                if (mid_tvalid && mid_tready) sh <= mid_tdata;
                else if (valid && m_axis_tready) sh <= sh >> OW;
            end
        end

        if (K_UP == 1 && K_DN == 1) begin : g_same
            wire _unused_clk = &{1'b0, clk, rst_n, 1'b0};  // IN == OUT: a wire, no clocked logic
        end
    endgenerate
endmodule
`default_nettype wire
