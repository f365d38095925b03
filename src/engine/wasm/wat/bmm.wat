;; bmm(a, b, out, batch, m, k, n, aStride, bStride, aRow, aCol, accumulate): a batched matmul for
;; many small matrices (attention's [batch·heads, tokens, tokens] products, the transposed products
;; of the backward pass), where tfjs-backend-wasm has only a scalar loop (~1 GFLOP/s) and XNNPACK
;; has no batched entry point (simd-bmm.ts, matmul.ts):
;;   out[i] = A[i] · B[i]  (accumulate = 0)   or   out[i] += A[i] · B[i]  (accumulate = 1)
;; for i < batch; A[i]: [m, k], B[i]: [k, n] row-major float32, out[i]: [m, n] row-major. a, b,
;; out are byte offsets on tfjs-backend-wasm's heap; aStride, bStride the bytes between batch
;; items (0 for a broadcast operand); aRow, aCol the bytes between A[r, k] and A[r+1, k], and
;; A[r, k] and A[r, k+1], so that a transposed A is read in place (aRow = 4, aCol = m·4).
;;
;; Each output row is computed 16 columns at a time in four f32x4 accumulators (then 4 at a time,
;; then scalars), two rows per pass so that each B load feeds two multiply-adds. No packing, so
;; unlike XNNPACK it costs nothing per new weight tensor. With accumulate set, a long k can be
;; done in slices that stay in cache (matmul.ts). The tiles are written out (not calls to a tile
;; function): V8 does not inline calls between wasm functions.
(module
  (import "env" "memory" (memory 1))
  (func (export "bmm")
    (param $a i32) (param $b i32) (param $out i32)
    (param $batch i32) (param $m i32) (param $k i32) (param $n i32)
    (param $aStride i32) (param $bStride i32) (param $aRow i32) (param $aCol i32) (param $accumulate i32)
    (local $bi i32) (local $mi i32) (local $ni i32) (local $ki i32)
    (local $nb i32)                             ;; bytes per row of B and of out: n·4
    (local $ab i32) (local $bb i32) (local $ob i32) ;; this batch item's A, B, out
    (local $bp i32)                             ;; B[ki, ni]
    (local $ak i32)                             ;; ki·aCol: A[row, ki] is at $arowR + $ak
    (local $arow0 i32) (local $arow1 i32)       ;; A[mi, 0], A[mi+1, 0]
    (local $orow0 i32) (local $orow1 i32)       ;; out[mi, 0], out[mi+1, 0]
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128) ;; accumulators: row, column vector
    (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local $a0 v128) (local $a1 v128)           ;; A[row, ki] in four lanes
    (local $bv v128)
    (local $s0 f32) (local $s1 f32)             ;; scalar accumulators
    (local.set $nb (i32.mul (local.get $n) (i32.const 4)))
    (block $batch_done
      (loop $batch_next
        (br_if $batch_done (i32.ge_u (local.get $bi) (local.get $batch)))
        (local.set $ab (i32.add (local.get $a) (i32.mul (local.get $bi) (local.get $aStride))))
        (local.set $bb (i32.add (local.get $b) (i32.mul (local.get $bi) (local.get $bStride))))
        (local.set $ob (i32.add (local.get $out) (i32.mul (local.get $bi) (i32.mul (local.get $m) (local.get $nb)))))
        (local.set $mi (i32.const 0))
        ;; pairs of rows
        (block $pairs_done
          (loop $pairs_next
            (br_if $pairs_done (i32.gt_u (i32.add (local.get $mi) (i32.const 2)) (local.get $m)))
            (local.set $arow0 (i32.add (local.get $ab) (i32.mul (local.get $mi) (local.get $aRow))))
            (local.set $orow0 (i32.add (local.get $ob) (i32.mul (local.get $mi) (local.get $nb))))
            (local.set $arow1 (i32.add (local.get $ab) (i32.mul (i32.add (local.get $mi) (i32.const 1)) (local.get $aRow))))
            (local.set $orow1 (i32.add (local.get $ob) (i32.mul (i32.add (local.get $mi) (i32.const 1)) (local.get $nb))))
            (local.set $ni (i32.const 0))
            ;; columns $ni .. $ni+15 of the 2 rows, in 8 accumulators, while they fit
            (block $cols16x2_done
              (loop $cols16x2_next
                (br_if $cols16x2_done (i32.gt_u (i32.add (local.get $ni) (i32.const 16)) (local.get $n)))
                (if (local.get $accumulate)
                  (then
                    (local.set $c00 (v128.load (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c01 (v128.load offset=16 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c02 (v128.load offset=32 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c03 (v128.load offset=48 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c10 (v128.load (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c11 (v128.load offset=16 (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c12 (v128.load offset=32 (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c13 (v128.load offset=48 (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))))))
                  (else
                    (local.set $c00 (v128.const i32x4 0 0 0 0))
                    (local.set $c01 (v128.const i32x4 0 0 0 0))
                    (local.set $c02 (v128.const i32x4 0 0 0 0))
                    (local.set $c03 (v128.const i32x4 0 0 0 0))
                    (local.set $c10 (v128.const i32x4 0 0 0 0))
                    (local.set $c11 (v128.const i32x4 0 0 0 0))
                    (local.set $c12 (v128.const i32x4 0 0 0 0))
                    (local.set $c13 (v128.const i32x4 0 0 0 0))))
                (local.set $bp (i32.add (local.get $bb) (i32.mul (local.get $ni) (i32.const 4))))
                (local.set $ak (i32.const 0))
                (local.set $ki (i32.const 0))
                (block $k16x2_done
                  (loop $k16x2_next
                    (br_if $k16x2_done (i32.ge_u (local.get $ki) (local.get $k)))
                    (local.set $a0 (f32x4.splat (f32.load (i32.add (local.get $arow0) (local.get $ak)))))
                    (local.set $a1 (f32x4.splat (f32.load (i32.add (local.get $arow1) (local.get $ak)))))
                    (local.set $bv (v128.load (local.get $bp)))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a0) (local.get $bv))))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a1) (local.get $bv))))
                    (local.set $bv (v128.load offset=16 (local.get $bp)))
                    (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a0) (local.get $bv))))
                    (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a1) (local.get $bv))))
                    (local.set $bv (v128.load offset=32 (local.get $bp)))
                    (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $a0) (local.get $bv))))
                    (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $a1) (local.get $bv))))
                    (local.set $bv (v128.load offset=48 (local.get $bp)))
                    (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $a0) (local.get $bv))))
                    (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $a1) (local.get $bv))))
                    (local.set $bp (i32.add (local.get $bp) (local.get $nb))) ;; next row of B
                    (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                    (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
                    (br $k16x2_next)))
                (v128.store (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c00))
                (v128.store offset=16 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c01))
                (v128.store offset=32 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c02))
                (v128.store offset=48 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c03))
                (v128.store (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c10))
                (v128.store offset=16 (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c11))
                (v128.store offset=32 (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c12))
                (v128.store offset=48 (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c13))
                (local.set $ni (i32.add (local.get $ni) (i32.const 16)))
                (br $cols16x2_next)))
            ;; columns $ni .. $ni+3 of the 2 rows, in 2 accumulators, while they fit
            (block $cols4x2_done
              (loop $cols4x2_next
                (br_if $cols4x2_done (i32.gt_u (i32.add (local.get $ni) (i32.const 4)) (local.get $n)))
                (if (local.get $accumulate)
                  (then
                    (local.set $c00 (v128.load (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $c10 (v128.load (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))))))
                  (else
                    (local.set $c00 (v128.const i32x4 0 0 0 0))
                    (local.set $c10 (v128.const i32x4 0 0 0 0))))
                (local.set $bp (i32.add (local.get $bb) (i32.mul (local.get $ni) (i32.const 4))))
                (local.set $ak (i32.const 0))
                (local.set $ki (i32.const 0))
                (block $k4x2_done
                  (loop $k4x2_next
                    (br_if $k4x2_done (i32.ge_u (local.get $ki) (local.get $k)))
                    (local.set $a0 (f32x4.splat (f32.load (i32.add (local.get $arow0) (local.get $ak)))))
                    (local.set $a1 (f32x4.splat (f32.load (i32.add (local.get $arow1) (local.get $ak)))))
                    (local.set $bv (v128.load (local.get $bp)))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a0) (local.get $bv))))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a1) (local.get $bv))))
                    (local.set $bp (i32.add (local.get $bp) (local.get $nb))) ;; next row of B
                    (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                    (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
                    (br $k4x2_next)))
                (v128.store (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c00))
                (v128.store (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c10))
                (local.set $ni (i32.add (local.get $ni) (i32.const 4)))
                (br $cols4x2_next)))
            ;; the last n mod 4 columns, one at a time
            (block $cols1x2_done
              (loop $cols1x2_next
                (br_if $cols1x2_done (i32.ge_u (local.get $ni) (local.get $n)))
                (local.set $bp (i32.add (local.get $bb) (i32.mul (local.get $ni) (i32.const 4))))
                (local.set $ak (i32.const 0))
                (local.set $ki (i32.const 0))
                (if (local.get $accumulate)
                  (then
                    (local.set $s0 (f32.load (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                    (local.set $s1 (f32.load (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))))))
                  (else
                    (local.set $s0 (f32.const 0))
                    (local.set $s1 (f32.const 0))))
                (block $k1x2_done
                  (loop $k1x2_next
                    (br_if $k1x2_done (i32.ge_u (local.get $ki) (local.get $k)))
                    (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (i32.add (local.get $arow0) (local.get $ak))) (f32.load (local.get $bp)))))
                    (local.set $s1 (f32.add (local.get $s1) (f32.mul (f32.load (i32.add (local.get $arow1) (local.get $ak))) (f32.load (local.get $bp)))))
                    (local.set $bp (i32.add (local.get $bp) (local.get $nb))) ;; next row of B
                    (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                    (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
                    (br $k1x2_next)))
                (f32.store (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $s0))
                (f32.store (i32.add (local.get $orow1) (i32.mul (local.get $ni) (i32.const 4))) (local.get $s1))
                (local.set $ni (i32.add (local.get $ni) (i32.const 1)))
                (br $cols1x2_next)))
            (local.set $mi (i32.add (local.get $mi) (i32.const 2)))
            (br $pairs_next)))
        ;; the odd row
        (block $odd_done
          (br_if $odd_done (i32.ge_u (local.get $mi) (local.get $m)))
          (local.set $arow0 (i32.add (local.get $ab) (i32.mul (local.get $mi) (local.get $aRow))))
          (local.set $orow0 (i32.add (local.get $ob) (i32.mul (local.get $mi) (local.get $nb))))
          (local.set $ni (i32.const 0))
          ;; columns $ni .. $ni+15 of the 1 row, in 4 accumulators, while they fit
          (block $cols16x1_done
            (loop $cols16x1_next
              (br_if $cols16x1_done (i32.gt_u (i32.add (local.get $ni) (i32.const 16)) (local.get $n)))
              (if (local.get $accumulate)
                (then
                  (local.set $c00 (v128.load (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                  (local.set $c01 (v128.load offset=16 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                  (local.set $c02 (v128.load offset=32 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4)))))
                  (local.set $c03 (v128.load offset=48 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))))))
                (else
                  (local.set $c00 (v128.const i32x4 0 0 0 0))
                  (local.set $c01 (v128.const i32x4 0 0 0 0))
                  (local.set $c02 (v128.const i32x4 0 0 0 0))
                  (local.set $c03 (v128.const i32x4 0 0 0 0))))
              (local.set $bp (i32.add (local.get $bb) (i32.mul (local.get $ni) (i32.const 4))))
              (local.set $ak (i32.const 0))
              (local.set $ki (i32.const 0))
              (block $k16x1_done
                (loop $k16x1_next
                  (br_if $k16x1_done (i32.ge_u (local.get $ki) (local.get $k)))
                  (local.set $a0 (f32x4.splat (f32.load (i32.add (local.get $arow0) (local.get $ak)))))
                  (local.set $bv (v128.load (local.get $bp)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a0) (local.get $bv))))
                  (local.set $bv (v128.load offset=16 (local.get $bp)))
                  (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a0) (local.get $bv))))
                  (local.set $bv (v128.load offset=32 (local.get $bp)))
                  (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $a0) (local.get $bv))))
                  (local.set $bv (v128.load offset=48 (local.get $bp)))
                  (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $a0) (local.get $bv))))
                  (local.set $bp (i32.add (local.get $bp) (local.get $nb))) ;; next row of B
                  (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                  (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
                  (br $k16x1_next)))
              (v128.store (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c00))
              (v128.store offset=16 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c01))
              (v128.store offset=32 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c02))
              (v128.store offset=48 (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c03))
              (local.set $ni (i32.add (local.get $ni) (i32.const 16)))
              (br $cols16x1_next)))
          ;; columns $ni .. $ni+3 of the 1 row, in 1 accumulator, while they fit
          (block $cols4x1_done
            (loop $cols4x1_next
              (br_if $cols4x1_done (i32.gt_u (i32.add (local.get $ni) (i32.const 4)) (local.get $n)))
              (if (local.get $accumulate)
                (then
                  (local.set $c00 (v128.load (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))))))
                (else
                  (local.set $c00 (v128.const i32x4 0 0 0 0))))
              (local.set $bp (i32.add (local.get $bb) (i32.mul (local.get $ni) (i32.const 4))))
              (local.set $ak (i32.const 0))
              (local.set $ki (i32.const 0))
              (block $k4x1_done
                (loop $k4x1_next
                  (br_if $k4x1_done (i32.ge_u (local.get $ki) (local.get $k)))
                  (local.set $a0 (f32x4.splat (f32.load (i32.add (local.get $arow0) (local.get $ak)))))
                  (local.set $bv (v128.load (local.get $bp)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a0) (local.get $bv))))
                  (local.set $bp (i32.add (local.get $bp) (local.get $nb))) ;; next row of B
                  (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                  (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
                  (br $k4x1_next)))
              (v128.store (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $c00))
              (local.set $ni (i32.add (local.get $ni) (i32.const 4)))
              (br $cols4x1_next)))
          ;; the last n mod 4 columns, one at a time
          (block $cols1x1_done
            (loop $cols1x1_next
              (br_if $cols1x1_done (i32.ge_u (local.get $ni) (local.get $n)))
              (local.set $bp (i32.add (local.get $bb) (i32.mul (local.get $ni) (i32.const 4))))
              (local.set $ak (i32.const 0))
              (local.set $ki (i32.const 0))
              (if (local.get $accumulate)
                (then
                  (local.set $s0 (f32.load (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))))))
                (else
                  (local.set $s0 (f32.const 0))))
              (block $k1x1_done
                (loop $k1x1_next
                  (br_if $k1x1_done (i32.ge_u (local.get $ki) (local.get $k)))
                  (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (i32.add (local.get $arow0) (local.get $ak))) (f32.load (local.get $bp)))))
                  (local.set $bp (i32.add (local.get $bp) (local.get $nb))) ;; next row of B
                  (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                  (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
                  (br $k1x1_next)))
              (f32.store (i32.add (local.get $orow0) (i32.mul (local.get $ni) (i32.const 4))) (local.get $s0))
              (local.set $ni (i32.add (local.get $ni) (i32.const 1)))
              (br $cols1x1_next))))
        (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
        (br $batch_next)))))
