`default_nettype none
// axis_fifo: AXI-Stream FIFO of DEPTH beats (DEPTH a power of two >= 2), WIDTH bits each.
//
// Storage is a register array with an asynchronous read port (maps to LUT RAM / distributed RAM, not
// block RAM). Flags come from registered pointers, so s_axis_tready and m_axis_tvalid are registered
// functions: no combinational path between the two sides. Full throughput (one beat per cycle in and
// out at the same time), capacity exactly DEPTH beats. A beat accepted in cycle t is valid at the output
// in cycle t + 1 when the FIFO was empty.
module axis_fifo #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 16
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire [WIDTH-1:0] s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    output wire [WIDTH-1:0] m_axis_tdata,
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready
);
    localparam integer AW = (DEPTH < 2) ? 1 : $clog2(DEPTH);

    generate
        if (DEPTH < 2 || (1 << AW) != DEPTH) begin : g_bad_depth
            initial begin
                $display("ERROR: axis_fifo: DEPTH=%0d, expected a power of two >= 2", DEPTH);
                $finish;
            end
        end
    endgenerate

    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW:0]      wp, rp;  // one extra wrap bit tells full from empty

    wire empty = (wp == rp);
    wire full  = (wp[AW] != rp[AW]) && (wp[AW-1:0] == rp[AW-1:0]);
    wire push  = s_axis_tvalid && !full;
    wire pop   = m_axis_tready && !empty;

    assign s_axis_tready = !full;
    assign m_axis_tvalid = !empty;
    assign m_axis_tdata  = mem[rp[AW-1:0]];

    always @(posedge clk) begin
        if (push) mem[wp[AW-1:0]] <= s_axis_tdata;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wp <= {(AW+1){1'b0}};
            rp <= {(AW+1){1'b0}};
        end else begin
            if (push) wp <= wp + 1'b1;
            if (pop)  rp <= rp + 1'b1;
        end
    end
endmodule
`default_nettype wire
