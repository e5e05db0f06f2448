//! Evaluating a switch or a rollout allocates nothing (dhat counts every
//! heap allocation of this test binary).

use boost_switches::{SwitchDef, Switches};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn evaluating_switches_allocates_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let _profiler = dhat::Profiler::builder().testing().build();
    let switches = Switches::in_memory([
        (
            "partner_hertz",
            SwitchDef::toggle("Call Hertz.", "cars", true),
        ),
        (
            "new_pricing",
            SwitchDef::rollout("New engine.", "pricing", 25.0),
        ),
    ])?;
    let hertz = switches.get("partner_hertz")?;
    let pricing = switches.rollout("new_pricing")?;
    let keys: Vec<String> = (0..1000).map(|i| format!("customer-{i}")).collect();

    let before = dhat::HeapStats::get();
    let mut on = 0_u32;
    for key in &keys {
        on += u32::from(hertz.is_on());
        on += u32::from(pricing.is_on_for(key));
    }
    let after = dhat::HeapStats::get();

    assert!(
        on > 1000,
        "the toggle is on and about a quarter of the keys are in: {on}"
    );
    assert_eq!(
        after.total_blocks, before.total_blocks,
        "an evaluation allocated"
    );
    Ok(())
}
