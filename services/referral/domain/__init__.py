"""Pure domain core of the referral service (中心吹哨、部门报到).

Nothing in this package does I/O: loaders take text, clocks take ``now`` as an argument.
"""
