import cProfile, pstats, time
from attendance_day import meeting_day
async def test_import(make_api):
    api = await make_api(jitsi_webhook_secret="x"*20)
    day = meeting_day()
    pr = cProfile.Profile(); pr.enable()
    t=time.perf_counter()
    await api.import_ok(day.program("jitsi"))
    print("IMPORT", time.perf_counter()-t)
    pr.disable()
    pstats.Stats(pr).sort_stats("cumulative").print_stats(40)
