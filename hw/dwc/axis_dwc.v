// axis_dwc: AXI-Stream width converter for streams of ELEM_BITS-wide elements, element order preserved
// (element 0 in the least significant bits). Supports IN_ELEMS == OUT_ELEMS (wire), OUT = k*IN (pack k
// input beats into one output beat) and IN = k*OUT (split one input beat into k output beats).
// Any other ratio stops elaboration with a clear message.
`default_nettype none

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
    localparam integer IW = IN_ELEMS * ELEM_BITS;
    localparam integer OW = OUT_ELEMS * ELEM_BITS;

    generate
        if (IN_ELEMS == OUT_ELEMS) begin : g_wire
            assign m_axis_tdata = s_axis_tdata;
            assign m_axis_tvalid = s_axis_tvalid;
            assign s_axis_tready = m_axis_tready;
        end else if (OUT_ELEMS % IN_ELEMS == 0) begin : g_up
            localparam integer K = OUT_ELEMS / IN_ELEMS;
            reg [OW-1:0] buffer;
            reg [31:0] count;
            reg full;
            assign s_axis_tready = !full || m_axis_tready;
            assign m_axis_tdata = buffer;
            assign m_axis_tvalid = full;
            always @(posedge clk) begin
                if (!rst_n) begin
                    count <= 32'd0;
                    full <= 1'b0;
                end else begin
                    if (full && m_axis_tready) full <= 1'b0;
                    if (s_axis_tvalid && s_axis_tready) begin
                        buffer[count*IW +: IW] <= s_axis_tdata;
                        if (count == K - 1) begin
                            count <= 32'd0;
                            full <= 1'b1;
                        end else begin
                            count <= count + 32'd1;
                        end
                    end
                end
            end
        end else if (IN_ELEMS % OUT_ELEMS == 0) begin : g_down
            localparam integer K = IN_ELEMS / OUT_ELEMS;
            reg [IW-1:0] buffer;
            reg [31:0] index;
            reg loaded;
            wire last = (index == K - 1);
            assign m_axis_tdata = buffer[index*OW +: OW];
            assign m_axis_tvalid = loaded;
            assign s_axis_tready = !loaded || (last && m_axis_tready);
            always @(posedge clk) begin
                if (!rst_n) begin
                    index <= 32'd0;
                    loaded <= 1'b0;
                end else begin
                    if (loaded && m_axis_tready) begin
                        if (last) begin
                            index <= 32'd0;
                            loaded <= 1'b0;
                        end else begin
                            index <= index + 32'd1;
                        end
                    end
                    if (s_axis_tvalid && s_axis_tready) begin
                        buffer <= s_axis_tdata;
                        loaded <= 1'b1;
                    end
                end
            end
        end else begin : g_unsupported
            initial begin
                $display("axis_dwc: IN_ELEMS=%0d and OUT_ELEMS=%0d must divide one another", IN_ELEMS, OUT_ELEMS);
                $finish;
            end
            assign m_axis_tdata = {OW{1'b0}};
            assign m_axis_tvalid = 1'b0;
            assign s_axis_tready = 1'b0;
        end
    endgenerate
endmodule

`default_nettype wire
