import { describe, expect, it } from 'vitest'
import { comparePaired, metricColumn, parsePerSampleCsv } from '../../../src/engine/compare-evals'

const CSV = ['id,identity.GRMSE,model.GRMSE,model.LRMSE,maskPixels', 'a,5.0000,4.0000,30.0000,100', 'b,6.0000,6.5000,,0', 'c,7.0000,5.0000,20.0000,50', ''].join('\n')

describe('compare-evals', () => {
  it('reads the per-sample CSV of umbra eval, leaving empty cells out', () => {
    const t = parsePerSampleCsv(CSV)
    expect(t.ids).toEqual(['a', 'b', 'c'])
    expect(t.values.get('model.GRMSE')!.get('b')).toBe(6.5)
    expect(t.values.get('model.LRMSE')!.has('b')).toBe(false)
    expect(metricColumn(t, 'GRMSE')).toBe('model.GRMSE')
    expect(metricColumn(t, 'GRMSE', 'identity')).toBe('identity.GRMSE')
    expect(() => metricColumn(t, 'GRMSE', 'geometric')).toThrow(/no single geometric column/)
    expect(() => parsePerSampleCsv('name,x\nq,1')).toThrow(/not a per-sample CSV/)
    expect(() => parsePerSampleCsv('id,x\nq,1,2')).toThrow(/row 2 has 3 cells/)
  })

  it('gives the paired mean difference, its standard error and the counts over the ids both runs have', () => {
    const base = new Map([['a', 5], ['b', 6], ['c', 7], ['only-base', 100]])
    const other = new Map([['a', 4], ['b', 6.5], ['c', 5]])
    const c = comparePaired(base, other)
    // differences -1, +0.5, -2: mean -0.8333, sample sd 1.2583, se 0.7265
    expect(c.count).toBe(3)
    expect(c.baseMean).toBeCloseTo(6, 10)
    expect(c.otherMean).toBeCloseTo(5.1667, 4)
    expect(c.meanDifference).toBeCloseTo(-0.8333, 4)
    expect(c.standardError).toBeCloseTo(0.7265, 4)
    expect([c.lower, c.higher]).toEqual([2, 1])
    const some = comparePaired(base, other, ['a', 'c'])
    expect([some.count, some.meanDifference]).toEqual([2, -1.5])
    expect(Number.isNaN(comparePaired(base, other, ['a']).standardError)).toBe(true)
  })
})
