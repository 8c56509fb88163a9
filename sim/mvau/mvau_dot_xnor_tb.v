`default_nettype none
// Test wrapper (sim/mvau/test_mvau_dot.py): mvau_dot in MODE 0 (XNOR popcount) at SIMD widths around the
// 64-bit word boundaries of its word loop, including one with more than 64 words (the loop Verilator does
// not unroll). Instance i sees the low SIMD_i bits of x and w; its dot is dots[i*ACC +: ACC].
module mvau_dot_xnor_tb #(
    parameter integer NT  = 9,    // number of instances (the widths are listed in simd_of)
    parameter integer ACC = 14
) (
    input  wire [4159:0]      x,
    input  wire [4159:0]      w,
    output wire [NT*ACC-1:0]  dots
);
    function integer simd_of;
        input integer i;
        begin
            case (i)
                0:       simd_of = 1;
                1:       simd_of = 2;
                2:       simd_of = 63;
                3:       simd_of = 64;
                4:       simd_of = 65;
                5:       simd_of = 128;
                6:       simd_of = 129;
                7:       simd_of = 784;
                default: simd_of = 4097;
            endcase
        end
    endfunction

    genvar i;
    generate
        for (i = 0; i < NT; i = i + 1) begin : g_t
            localparam integer S = simd_of(i);
            mvau_dot #(
                .SIMD(S), .MODE(0), .IN_BITS(1), .IN_SIGNED(0), .W_BITS(1), .ACC_BITS(ACC)
            ) u_dot (
                .x(x[S-1:0]),
                .w(w[S-1:0]),
                .dot(dots[i*ACC +: ACC])
            );
        end
    endgenerate

    wire _unused_hi = &{1'b0, x[4159:4097], w[4159:4097], 1'b0};
endmodule
`default_nettype wire
