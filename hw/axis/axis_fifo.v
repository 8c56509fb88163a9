// axis_fifo: AXI-Stream FIFO, DEPTH entries (power of two >= 2), first-word fall-through.
// Full throughput (one beat in and one out per cycle); s_axis_tready = not full; storage maps to LUTRAM.
`default_nettype none

module axis_fifo #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 4
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
    function integer clog2;  // ceil(log2(v)), at least 1
        input integer v;
        integer r;
        begin
            r = 0;
            while ((1 << r) < v) r = r + 1;
            clog2 = (r < 1) ? 1 : r;
        end
    endfunction

    localparam integer AW = clog2(DEPTH);

    generate
        if ((1 << AW) != DEPTH) begin : g_bad_depth
            initial begin
                $display("axis_fifo: DEPTH=%0d must be a power of two >= 2", DEPTH);
                $finish;
            end
        end
    endgenerate

    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW:0] wr_ptr, rd_ptr;
    wire empty = (wr_ptr == rd_ptr);
    wire full = (wr_ptr[AW] != rd_ptr[AW]) && (wr_ptr[AW-1:0] == rd_ptr[AW-1:0]);

    assign s_axis_tready = !full;
    assign m_axis_tvalid = !empty;
    assign m_axis_tdata = mem[rd_ptr[AW-1:0]];

    always @(posedge clk) begin
        if (s_axis_tvalid && !full) mem[wr_ptr[AW-1:0]] <= s_axis_tdata;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= {(AW+1){1'b0}};
            rd_ptr <= {(AW+1){1'b0}};
        end else begin
            if (s_axis_tvalid && !full) wr_ptr <= wr_ptr + 1'b1;
            if (m_axis_tready && !empty) rd_ptr <= rd_ptr + 1'b1;
        end
    end
endmodule

`default_nettype wire
